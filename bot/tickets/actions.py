"""The one place each ticket action is carried out, whichever door it came through (the `triage
tickets` CLI, Slack, the email "solved, thanks"): the who-may-do-what check, the lifecycle change
and its audit event, the SLA bookkeeping, routing, and the notifications. A door translates a
request into one call here, and the `Done` it returns into its own words.

Functions take the session first and everything else by keyword; the caller commits. A refusal
is a `NotAllowed` (a `UserError`), raised before anything changed.
"""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.messages import THREAD, Answer, Note, dump
from bot.delivery.notifications import notify_escalation
from bot.delivery.outbox import enqueue
from bot.delivery.replies import private_address, reply_subject
from bot.errors import UserError
from bot.matching.corrections import UNKNOWN, correct_ticket
from bot.records.source import RecordsSource
from bot.store.models import OPEN_STATUSES, Message, Ticket, TicketMessage
from bot.text.regions import DESK_REGIONS
from bot.tickets import lifecycle, sla
from bot.tickets.escalation import chain_recipients
from bot.tickets.permissions import Act, Actor, Place, allowed, who_may
from bot.tickets.queue import open_load
from bot.tickets.routing import Route, route

CHAIN_RULE = "escalation-chain"


class NotAllowed(UserError):
    """The actor's roles do not grant this action on this ticket (nothing was changed)."""


@dataclass(frozen=True)
class Done:
    """What an action did, for the door to say."""

    ticket_id: int
    ref: str
    action: str
    status: str
    owner: str | None
    rule: str | None = None
    # send answer: the channel and address the answer went to
    delivered_by: str | None = None
    delivered_to: str | None = None
    changed: bool = True


def may(
    config: AppConfig,
    actor: Actor,
    act: Act,
    *,
    ticket: Ticket | None = None,
    named_target: bool = False,
) -> bool:
    """Does the table (with this desk's overrides) let `actor` do `act` here?"""
    return allowed(
        actor, act, _place(config, actor, ticket), named_target=named_target,
        overrides=config.permissions,
    )  # fmt: skip


def authorize(
    config: AppConfig,
    actor: Actor,
    act: Act,
    *,
    ticket: Ticket | None = None,
    named_target: bool = False,
) -> None:
    """Raise `NotAllowed`, with who does have the right, unless `may` says yes."""
    if may(config, actor, act, ticket=ticket, named_target=named_target):
        return
    ref = lifecycle.display_id(config, ticket.id) if ticket is not None else "that"
    what = f"{act.value.replace('_', ' ')} {ref}"
    if named_target and may(config, actor, act, ticket=ticket):
        raise NotAllowed(
            f"Sorry, front-line agents escalate along the escalation chain: leave out the name and"
            f" {ref} goes to the next person (a lead can name someone)."
        )
    owner = ticket.owner if ticket is not None else None
    who = who_may(act, owner=owner, overrides=config.permissions)
    raise NotAllowed(f"Sorry, only {who} can {what}.")


def _place(config: AppConfig, actor: Actor, ticket: Ticket | None) -> Place:
    me = actor.owner_id
    led = frozenset(name for name, team in config.teams.items() if me and team.lead == me)
    if ticket is None:
        return Place(None, None, None, led_teams=led, triage_lead=config.triage_lead)
    team = ticket.team or (config.team_of(ticket.owner) if ticket.owner else None)
    return Place(
        ticket_owner=ticket.owner,
        ticket_team=team,
        ticket_candidate=ticket.candidate_key,
        led_teams=led,
        triage_lead=config.triage_lead,
    )


def _done(config: AppConfig, ticket: Ticket, action: str, **extra: object) -> Done:
    return Done(
        ticket_id=ticket.id,
        ref=lifecycle.display_id(config, ticket.id),
        action=action,
        status=ticket.status,
        owner=ticket.owner,
        rule=ticket.routing_rule,
        **extra,  # type: ignore[arg-type]
    )


def assign(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    owner: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> Done:
    """Give the ticket to `owner` (an owner id): an assignment when nobody owns it, a reassignment
    when someone does. The new owner is told; running SLA targets move into their calendar."""
    act = Act.ASSIGN if ticket.owner is None else Act.REASSIGN
    authorize(config, actor, act, ticket=ticket)
    if owner == ticket.owner:
        return _done(config, ticket, act.value, changed=False)
    before = sla.calendar_for(config, ticket.owner)
    event = lifecycle.assign(
        session, ticket=ticket, owner=owner, actor=actor.name, now=now, config=config,
        reason=reason, action=act.value,
    )  # fmt: skip
    sla.hand_over(ticket, now=now, old=before, new=sla.calendar_for(config, owner))
    session.flush()
    verb = "assigned" if act is Act.ASSIGN else "reassigned"
    notify_escalation(
        session, config, ticket=ticket, recipient=owner, level=f"{act.value}-{event.id}",
        reason=reason or f"{verb} to you by {actor.name}", now=now,
    )  # fmt: skip
    return _done(config, ticket, act.value)


def escalate(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    actor: Actor,
    now: datetime,
    to: str | None = None,
    reason: str | None = None,
    records: RecordsSource | None = None,
) -> Done:
    """Hand the ticket up to `to`, or when nobody is named to the next person (`next_owner`),
    mark it escalated, keep its SLA clock running in the new owner's calendar, tell them."""
    authorize(config, actor, Act.ESCALATE, ticket=ticket, named_target=to is not None)
    lifecycle.check_transition(ticket, lifecycle.ESCALATED, config=config)
    chosen = (
        Route(to, None, f"manual:{actor.name}")
        if to is not None
        else next_owner(session, config, ticket=ticket, records=records)
    )
    before = sla.calendar_for(config, ticket.owner)
    sla.resume(ticket, now=now, calendar=before)  # it waits on a person again
    event = lifecycle.escalate(
        session, ticket=ticket, owner=chosen.owner, rule=chosen.rule, team=chosen.team,
        actor=actor.name, now=now, config=config, reason=reason,
    )  # fmt: skip
    if ticket.sla_due_at is None:
        sla.start_clock(ticket, config=config, now=now)
    else:
        sla.hand_over(ticket, now=now, old=before, new=sla.calendar_for(config, chosen.owner))
    session.flush()
    notify_escalation(
        session, config, ticket=ticket, recipient=chosen.owner, level=f"manual-{event.id}",
        reason=reason or f"escalated by {actor.name}", now=now,
    )  # fmt: skip
    return _done(config, ticket, "escalate")


def next_owner(
    session: Session, config: AppConfig, *, ticket: Ticket, records: RecordsSource | None = None
) -> Route:
    """Whom an escalation goes to when nobody is named: a ticket nobody owns goes by the routing
    rules; an owned one to its owner while it is not escalated yet, then to the next person of
    the escalation chain after the current owner, the triage lead at the end."""
    if ticket.owner is None:
        region, country = candidate_place(ticket, records)
        entities = ticket.entities or {}
        return route(
            config, issue=ticket.issue, region=region, country=country,
            exams=entities.get("exams") or [], priority=ticket.priority, source=ticket.source,
            open_load=open_load(session),
        )  # fmt: skip
    if ticket.status != lifecycle.ESCALATED:
        return Route(ticket.owner, ticket.team, CHAIN_RULE)
    people = chain_recipients(config, ticket)
    later = people[people.index(ticket.owner) + 1 :] if ticket.owner in people else []
    person = later[0] if later else config.triage_lead
    return Route(person, None, CHAIN_RULE)


def candidate_place(ticket: Ticket, records: RecordsSource | None) -> tuple[str | None, str | None]:
    """(desk region, country) for routing: the candidate's record when known, else what the
    message named (a desk region, or a country), as at intake."""
    if records is not None and ticket.candidate_mcp_id:
        found = records.get(ticket.candidate_mcp_id)
        if found is not None:
            return found.candidate.region, found.candidate.country
    named = (ticket.entities or {}).get("regions") or []
    return (
        next((r for r in named if r in DESK_REGIONS), None),
        next((r for r in named if r not in DESK_REGIONS), None),
    )


def resolve(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> Done:
    """Resolve the ticket: a paused clock is resumed first, so the business time it took
    (`resolution_seconds`, in the owner's calendar) leaves out the time it waited."""
    authorize(config, actor, Act.RESOLVE, ticket=ticket)
    lifecycle.check_transition(ticket, lifecycle.RESOLVED, config=config)
    calendar = sla.calendar_for(config, ticket.owner)
    sla.resume(ticket, now=now, calendar=calendar)
    lifecycle.resolve(
        session, ticket=ticket, actor=actor.name, now=now, note=note, config=config,
        business_seconds=sla.elapsed_business_seconds(ticket, now=now, calendar=calendar),
    )  # fmt: skip
    return _done(config, ticket, "resolve")


def reopen(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> Done:
    """Bring a resolved or closed ticket back; its owner, if any, is told."""
    authorize(config, actor, Act.REOPEN, ticket=ticket)
    event = lifecycle.reopen(
        session, ticket=ticket, actor=actor.name, now=now, reason=reason, config=config
    )
    if ticket.owner is not None:
        session.flush()
        notify_escalation(
            session, config, ticket=ticket, recipient=ticket.owner, level=f"reopen-{event.id}",
            reason=reason or f"reopened by {actor.name}", now=now,
        )  # fmt: skip
    return _done(config, ticket, "reopen")


def merge(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    into: Ticket,
    actor: Actor,
    now: datetime,
) -> Done:
    """Move `ticket`'s messages and history onto `into` and close it as merged."""
    authorize(config, actor, Act.MERGE, ticket=ticket)
    authorize(config, actor, Act.MERGE, ticket=into)
    lifecycle.merge(session, ticket=ticket, into=into, actor=actor.name, now=now, config=config)
    return _done(config, ticket, "merge")


def acknowledge(
    session: Session, config: AppConfig, *, ticket: Ticket, actor: Actor, now: datetime
) -> Done:
    """Note on the audit trail that `actor` has seen the escalation and is on it."""
    authorize(config, actor, Act.ACKNOWLEDGE, ticket=ticket)
    lifecycle.record_event(
        session, ticket=ticket, actor=actor.name, action="acknowledge", from_status=ticket.status,
        to_status=ticket.status, reason="escalation acknowledged", now=now,
    )  # fmt: skip
    return _done(config, ticket, "acknowledge")


def relabel(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    issue: str,
    catalogue: Collection[str],
    actor: Actor,
    now: datetime,
    reroute: bool = False,
    records: RecordsSource | None = None,
) -> Done:
    """Correct the ticket's issue (`unknown`: none fits) and keep the correction as a labelled
    example for the matcher. The owner stays: relabelling is not a handoff, unless `reroute`
    (a surge made a known issue, or merged into one): then an open ticket goes where the
    routing rules send the new issue, and its new owner is told."""
    authorize(config, actor, Act.RELABEL, ticket=ticket)
    if issue != UNKNOWN and issue not in catalogue:
        raise UserError(f"`{issue}` is not a known issue.")
    corrected = None if issue == UNKNOWN else issue
    if corrected == ticket.issue:
        return _done(config, ticket, "relabel", changed=False)
    chosen = _reroute_target(session, config, ticket, corrected, records) if reroute else None
    if chosen is not None:
        authorize(config, actor, Act.ASSIGN if ticket.owner is None else Act.REASSIGN,
                  ticket=ticket)  # fmt: skip
    correct_ticket(
        session, ticket_id=ticket.id, corrected=issue, actor=actor.name, source=ticket.source,
        now=now,
    )  # fmt: skip
    lifecycle.record_event(
        session, ticket=ticket, actor=actor.name, action="relabel", from_status=ticket.status,
        to_status=ticket.status, now=now, reason=f"relabelled {ticket.issue or UNKNOWN} -> {issue}",
        data={"from": ticket.issue, "to": corrected},
    )  # fmt: skip
    ticket.issue = corrected
    ticket.updated_at = now
    if chosen is not None:
        before = sla.calendar_for(config, ticket.owner)
        event = lifecycle.assign(
            session, ticket=ticket, owner=chosen.owner, actor=actor.name, now=now, config=config,
            rule=chosen.rule, reason=f"re-routed as {issue}", action="reroute",
        )  # fmt: skip
        if chosen.team:
            ticket.team = chosen.team
        sla.hand_over(ticket, now=now, old=before, new=sla.calendar_for(config, chosen.owner))
        session.flush()
        notify_escalation(
            session, config, ticket=ticket, recipient=chosen.owner, level=f"reroute-{event.id}",
            reason=f"re-routed to you as {issue} by {actor.name}", now=now,
        )  # fmt: skip
    return _done(config, ticket, "relabel")


def _reroute_target(
    session: Session,
    config: AppConfig,
    ticket: Ticket,
    issue: str | None,
    records: RecordsSource | None,
) -> Route | None:
    """Where the routing rules send an open ticket as `issue`, when that is someone else."""
    if ticket.status not in OPEN_STATUSES:
        return None
    region, country = candidate_place(ticket, records)
    entities = ticket.entities or {}
    chosen = route(
        config, issue=issue, region=region, country=country, exams=entities.get("exams") or [],
        priority=ticket.priority, source=ticket.source, open_load=open_load(session),
    )  # fmt: skip
    return None if chosen.owner == ticket.owner else chosen


def send_answer(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    actor: Actor,
    now: datetime,
    records: RecordsSource | None = None,
    text: str | None = None,
    once_per: str | None = None,
) -> Done:
    """Send the ticket's drafted answer to the candidate privately (`private_address`); when
    they asked where others read, that conversation only hears that it was answered. `text`:
    an agent's own words instead of the draft (one answer to every ticket of a surge; it
    carries no one's record facts), sent once per ticket and `once_per` (e.g. the surge)."""
    authorize(config, actor, Act.SEND_ANSWER, ticket=ticket)
    ref = lifecycle.display_id(config, ticket.id)
    if text is not None and not text.strip():
        raise UserError("The answer is empty.")
    if not (text or ticket.answer):
        raise UserError(f"{ref} has no drafted answer to send.")
    if ticket.status != lifecycle.ANSWERED:
        lifecycle.check_transition(ticket, lifecycle.ANSWERED, config=config)
    first = session.scalar(
        select(Message)
        .join(TicketMessage, TicketMessage.message_id == Message.id)
        .where(TicketMessage.ticket_id == ticket.id, Message.direction == "in")
        .order_by(Message.id)
        .limit(1)
    )
    channel, address, reply_to = private_address(ticket, first, records)
    answer = Answer(
        text=text or ticket.answer or "", subject=reply_subject(ticket.subject, ref),
        ticket_id=ticket.id, ref=ref, reply_to=reply_to,
    )  # fmt: skip
    suffix = f":{once_per}" if once_per else ""
    key = f"answer:{ticket.id}{suffix}"
    enqueue(
        session, channel=channel, kind="answer", recipient=address, payload=dump(answer),
        dedupe_key=key, ticket_id=ticket.id, now=now,
    )  # fmt: skip
    if first is not None and first.channel:
        note = Note(
            text=f"{ref}: answer sent to the candidate privately.", ticket_id=ticket.id,
            reply_to=dict(first.meta.get(THREAD) or {}),
        )  # fmt: skip
        enqueue(
            session, channel=first.source, kind="note", recipient=first.channel,
            payload=dump(note), dedupe_key=f"answer-note:{ticket.id}{suffix}", ticket_id=ticket.id,
            now=now,
        )  # fmt: skip
    calendar = sla.calendar_for(config, ticket.owner)
    sla.resume(ticket, now=now, calendar=calendar)
    if ticket.status != lifecycle.ANSWERED:
        lifecycle.transition(
            session, ticket=ticket, to_status=lifecycle.ANSWERED, actor=actor.name,
            action="answer", reason=f"drafted answer sent by {actor.name}", now=now, config=config,
        )  # fmt: skip
    ticket.decision = "answer"
    seconds = sla.elapsed_business_seconds(ticket, now=now, calendar=calendar)
    lifecycle.record_first_response(session, ticket=ticket, now=now, business_seconds=seconds)
    return _done(config, ticket, "answer", delivered_by=channel, delivered_to=address)
