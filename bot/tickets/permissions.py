"""Who may do what to a ticket: one table of roles by actions, enforced in one place (the action
layer, `bot/tickets/actions.py`), whichever door the request came through.

A person holds every role that fits them for the ticket at hand, and may act when any of those
roles grants it: every agent is a front-line agent; an owner is the owner of the tickets they
own; a team lead leads the team a ticket belongs to; the triage lead leads every ticket; the
candidate is the person a ticket is about (on a proven channel). The server's own operator (the
CLI) and the bot itself are not in the table: they may do everything, audited by name.

A desk changes single cells in `app.yaml` (`permissions:`), e.g. to let front-line agents name
the person they escalate to: `permissions: {front_line_agent: {escalate: "yes"}}`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    CANDIDATE = "candidate"
    FRONT_LINE = "front_line_agent"
    OWNER = "owner"
    TEAM_LEAD = "team_lead"
    TRIAGE_LEAD = "triage_lead"


class Act(StrEnum):
    SEE_RECORDS = "see_records"
    ASSIGN = "assign"  # give a ticket nobody owns to someone
    REASSIGN = "reassign"  # give an owned ticket to someone else
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    MERGE = "merge"
    SEND_ANSWER = "send_answer"
    VERIFY_IDENTITY = "verify_identity"
    RELABEL = "relabel"
    ACKNOWLEDGE = "acknowledge"


class Grant(StrEnum):
    YES = "yes"  # on every ticket the role covers
    NO = "no"
    # escalate: to the next person by the routing rules and the escalation chain, never to a
    # person the agent names
    CHAIN = "chain"
    UNOWNED = "unowned"  # assign: a ticket nobody owns yet (an owner taking it)


Y, N = Grant.YES, Grant.NO
_ALL_YES = dict.fromkeys(Act, Y)

# The default table (README, "Who may do what"). Rows are roles, columns actions.
DEFAULT: dict[Role, dict[Act, Grant]] = {
    Role.CANDIDATE: {**dict.fromkeys(Act, N), Act.SEE_RECORDS: Y, Act.RESOLVE: Y},
    Role.FRONT_LINE: {
        **dict.fromkeys(Act, N),
        Act.SEE_RECORDS: Y,
        Act.ESCALATE: Grant.CHAIN,
        Act.SEND_ANSWER: Y,
        Act.VERIFY_IDENTITY: Y,
        Act.RELABEL: Y,
    },
    Role.OWNER: {**_ALL_YES, Act.ASSIGN: Grant.UNOWNED, Act.MERGE: N},
    Role.TEAM_LEAD: dict(_ALL_YES),
    Role.TRIAGE_LEAD: dict(_ALL_YES),
}

# Cells a desk may set, beyond the default: which grants make sense for which action, and the
# candidate's row may only be narrowed (a desk cannot hand candidates agents' rights).
VALID_GRANTS: dict[Act, frozenset[Grant]] = {
    act: frozenset({Y, N} | ({Grant.CHAIN} if act is Act.ESCALATE else set())
                   | ({Grant.UNOWNED} if act is Act.ASSIGN else set()))
    for act in Act
}  # fmt: skip

Overrides = Mapping[str, Mapping[str, str]]


def check_overrides(overrides: Overrides) -> None:
    """Raise ValueError naming the first cell that is not a role, an action or a valid grant."""
    for role_name, cells in overrides.items():
        if role_name not in Role.__members__.values():
            raise ValueError(f"unknown role {role_name!r} (use {', '.join(Role)})")
        for act_name, grant_name in cells.items():
            if act_name not in Act.__members__.values():
                raise ValueError(f"unknown action {act_name!r} (use {', '.join(Act)})")
            act, grant = Act(act_name), grant_name
            valid = VALID_GRANTS[act]
            if grant not in valid:
                raise ValueError(
                    f"{role_name}.{act_name}: {grant!r} is not one of {', '.join(sorted(valid))}"
                )
            if role_name == Role.CANDIDATE and grant != Grant.NO:
                raise ValueError(f"candidate.{act_name}: candidates' rights can only be 'no'")


def table(overrides: Overrides | None = None) -> dict[Role, dict[Act, Grant]]:
    """The default table with a desk's overrides applied."""
    result = {role: dict(cells) for role, cells in DEFAULT.items()}
    for role_name, cells in (overrides or {}).items():
        for act_name, grant in cells.items():
            result[Role(role_name)][Act(act_name)] = Grant(grant)
    return result


@dataclass(frozen=True)
class Actor:
    """Who asks for an action, as the door that took the request identified them.

    `name` is how the audit trail names them. An agent may also be an owner (`owner_id`), lead
    teams and be the triage lead (derived from `app.yaml`); a candidate is known by the ticket
    key their channel proved (`candidate_key`)."""

    name: str
    kind: Literal["agent", "candidate", "operator", "system"]
    owner_id: str | None = None
    candidate_key: str | None = None

    @classmethod
    def operator(cls, name: str) -> "Actor":
        """Someone at the server's command line: allowed everything, audited by name."""
        return cls(name=name, kind="operator")

    @classmethod
    def system(cls, name: str) -> "Actor":
        return cls(name=name, kind="system")


@dataclass(frozen=True)
class Place:
    """What the table needs to know about a ticket and the desk: the ticket's owner and team,
    its candidate, the teams the actor leads, and who the triage lead is."""

    ticket_owner: str | None
    ticket_team: str | None
    ticket_candidate: str | None
    led_teams: frozenset[str]
    triage_lead: str


def roles(actor: Actor, place: Place) -> set[Role]:
    """The roles `actor` holds for this ticket."""
    held: set[Role] = set()
    if actor.kind == "candidate":
        if actor.candidate_key and actor.candidate_key == place.ticket_candidate:
            held.add(Role.CANDIDATE)
        return held
    if actor.kind != "agent":
        return held
    held.add(Role.FRONT_LINE)
    if actor.owner_id is not None:
        if place.ticket_owner == actor.owner_id:
            held.add(Role.OWNER)
        if place.ticket_team is not None and place.ticket_team in place.led_teams:
            held.add(Role.TEAM_LEAD)
        if actor.owner_id == place.triage_lead:
            held.add(Role.TRIAGE_LEAD)
    return held


def allowed(
    actor: Actor,
    act: Act,
    place: Place,
    *,
    named_target: bool = False,
    overrides: Overrides | None = None,
) -> bool:
    """May `actor` do `act` here? `named_target`: the actor names whom the ticket goes to."""
    if actor.kind in ("operator", "system"):
        return True
    grid = table(overrides)
    held = roles(actor, place)
    unowned = place.ticket_owner is None
    if unowned and actor.kind == "agent" and actor.owner_id is not None:
        held.add(Role.OWNER)  # anyone listed as an owner, for the grants on unowned tickets
    for role in held:
        grant = grid[role][act]
        if grant is Grant.UNOWNED:
            if unowned:
                return True
            continue
        if role is Role.OWNER and place.ticket_owner != actor.owner_id:
            continue
        if grant is Grant.YES or (grant is Grant.CHAIN and not named_target):
            return True
    return False


def who_may(act: Act, *, owner: str | None, overrides: Overrides | None = None) -> str:
    """Who does have the right, for a refusal: "ananya, their team's lead or the triage lead"."""
    grid = table(overrides)
    people = []
    if grid[Role.FRONT_LINE][act] is Grant.YES:
        return "an agent"
    if grid[Role.OWNER][act] is Grant.YES:
        people.append(owner or "its owner")
    elif grid[Role.OWNER][act] is Grant.UNOWNED:
        people.append("an owner")
    if grid[Role.TEAM_LEAD][act] is Grant.YES:
        named = grid[Role.OWNER][act] is Grant.YES
        people.append("their team's lead" if named else "a team lead")
    if grid[Role.TRIAGE_LEAD][act] is Grant.YES:
        people.append("the triage lead")
    if not people:
        return "nobody from Slack"
    return ", ".join(people[:-1]) + (" or " if len(people) > 1 else "") + people[-1]
