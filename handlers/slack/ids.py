"""Every Slack id the app sends and listens for: `action_id`s and block ids (no modals yet, so no
`callback_id`s)."""

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


class Block(StrEnum):
    TICKET_ACTIONS = "ticket_actions"
    ESCALATION_ACTIONS = "escalation_actions"
    HOME_QUEUE = "home_queue"
    HOME_COUNTS = "home_counts"
    HOME_DIGEST = "home_digest"
