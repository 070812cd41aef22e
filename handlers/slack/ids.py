"""Every Slack id the app sends and listens for: `action_id`s, block ids and the `callback_id`s
of modals."""

from enum import StrEnum


class Action(StrEnum):
    ASSIGN_TO_ME = "ticket_assign_to_me"
    ESCALATE = "ticket_escalate"
    RESOLVE = "ticket_resolve"
    SEND_ANSWER = "ticket_send_answer"
    NOT_THIS_ISSUE = "ticket_not_this_issue"
    ACKNOWLEDGE = "ticket_acknowledge"
    REASSIGN = "ticket_reassign"
    REOPEN = "ticket_reopen"
    OPEN_TICKET = "ticket_open"
    VERIFY_IDENTITY = "ticket_verify_identity"
    SURGE_MAKE_KNOWN = "surge_make_known"
    SURGE_MERGE = "surge_merge"  # the suggested issue's button
    SURGE_MERGE_PICK = "surge_merge_pick"  # any issue, from a menu
    SURGE_IGNORE = "surge_ignore"
    SURGE_ANSWER = "surge_answer"  # opens the answer-all modal


class Block(StrEnum):
    TICKET_ACTIONS = "ticket_actions"
    ESCALATION_ACTIONS = "escalation_actions"
    HOME_QUEUE = "home_queue"
    HOME_COUNTS = "home_counts"
    HOME_DIGEST = "home_digest"
    HOME_SURGES = "home_surges"
    SURGE_ACTIONS = "surge_actions"
    SURGE_ANSWER_TEXT = "surge_answer_text"


class View(StrEnum):
    SURGE_ANSWER = "surge_answer_view"
