"""Filing a triaged message: open, thread or resolve tickets, route escalations, start SLA clocks.

The intake (`bot/intake/batch.py`) parses, matches and checks the records, builds a
`TriagedMessage` and calls `file_message` in the same transaction that stored the message, so the
tickets, their audit trail and the owners' notifications commit together. Filing asks its
questions and hands its writes through `Lookups`, so a batch of messages is filed with a few
set-based statements; `Filing.finish` reports once the new tickets have ids (after a flush).

A message joins, answers or resolves only its writer's own tickets: a ticket number in a subject,
the earlier message it replies to or the thread it is in names a ticket, but the ticket's
candidate key must be the writer's (an agent logging a message may name any).
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.store.models import OPEN_STATUSES, Message, Ticket
from bot.store.models.tickets import UNVERIFIED
from bot.tickets import actions, sla
from bot.tickets import lifecycle as tickets
from bot.tickets.lookups import Lookups, SessionLookups
from bot.tickets.permissions import Act, Actor
from bot.tickets.priority import priority_for, rank
from bot.tickets.queue import open_load
from bot.tickets.routing import DEFAULT_RULE, Route, pick_member, route
from bot.types import NOT_A_REQUEST, FiledTicket, IssueVerdict, TriagedMessage

# What a filed ticket reports, as it stood when its message was filed.
_REPORTED = ("issue", "status", "priority", "owner", "routing_rule", "identity_status")


@dataclass
class _Entry:
    ticket: Ticket
    created: bool
    verdict: IssueVerdict
    state: dict[str, object] = field(default_factory=dict)


@dataclass
class Filing:
    """What filing one message did; `finish` reports it once new tickets have ids."""

    entries: list[_Entry] = field(default_factory=list)
    grouped: bool = True  # tickets opened by one message share a group (a thanks has none)

    def add(self, ticket: Ticket, created: bool, verdict: IssueVerdict) -> None:
        self.entries.append(_Entry(ticket, created, verdict))

    def settle(self) -> "Filing":
        """Remember each ticket as it stands now: later messages of a batch may change it."""
        for entry in self.entries:
            entry.state = {name: getattr(entry.ticket, name) for name in _REPORTED}
        return self

    def finish(self, config: AppConfig) -> list[FiledTicket]:
        """Group the new tickets and report them; call after a flush, in message order."""
        if self.grouped and self.entries:
            threaded = (e.ticket.group_id for e in self.entries if not e.created)
            group = next((g for g in threaded if g), None) or self.entries[0].ticket.id
            for entry in self.entries:
                if entry.created or entry.ticket.group_id is None:
                    entry.ticket.group_id = group
        return [_filed(config, entry) for entry in self.entries]


def file_triaged_message(
    session: Session,
    config: AppConfig,
    *,
    message: Message,
    triage: TriagedMessage,
    now: datetime,
) -> list[FiledTicket]:
    """File one message on its own (see `file_message`) and report it. The caller commits."""
    filing = file_message(
        session, config, message=message, triage=triage, now=now, lookups=SessionLookups(session)
    )
    session.flush()
    filed = filing.finish(config)
    session.flush()
    return filed


def file_message(
    session: Session,
    config: AppConfig,
    *,
    message: Message,
    triage: TriagedMessage,
    now: datetime,
    lookups: Lookups,
) -> Filing:
    """Open or thread one ticket per issue of `message` (linked by `group_id`), or resolve the
    tickets a "solved, thanks" refers to. Flushes nothing itself."""
    verdicts = _distinct([v for v in triage.verdicts if v.issue != NOT_A_REQUEST])
    if not verdicts:
        if triage.signals.thanks:
            return _resolve_thanked(
                session, config, message=message, triage=triage, now=now, lookups=lookups
            ).settle()
        return Filing()
    referenced = _referenced_ticket(lookups, triage=triage)
    filing = Filing()
    for verdict in verdicts:
        ticket = None
        if referenced is not None and (len(verdicts) == 1 or referenced.issue == verdict.issue):
            ticket = referenced
        elif triage.candidate_key:
            ticket = lookups.open_ticket(candidate_key=triage.candidate_key, issue=verdict.issue)
        if ticket is not None:
            _thread(session, config, ticket=ticket, message=message, triage=triage,
                    verdict=verdict, now=now, lookups=lookups)  # fmt: skip
            filing.add(ticket, False, verdict)
        else:
            ticket = _create(session, config, message=message, triage=triage, verdict=verdict,
                             now=now, lookups=lookups)  # fmt: skip
            filing.add(ticket, True, verdict)
    return filing.settle()


def _distinct(verdicts: list[IssueVerdict]) -> list[IssueVerdict]:
    seen: set[str | None] = set()
    kept = []
    for verdict in verdicts:
        if verdict.issue not in seen:
            seen.add(verdict.issue)
            kept.append(verdict)
    return kept


def _referenced_ticket(lookups: Lookups, *, triage: TriagedMessage) -> Ticket | None:
    if triage.ticket_id is None:
        return None
    ticket = lookups.ticket(triage.ticket_id)
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return None
    if not _writers_own(ticket, triage):
        return None  # someone else's ticket number in a subject line, or their thread
    return ticket


def _writers_own(ticket: Ticket, triage: TriagedMessage) -> bool:
    """Whether the message's writer may join, answer or resolve `ticket`: it is keyed on them
    (a ticket with no key belongs to nobody a message can prove to be); agents may name any."""
    if triage.actor:
        return True
    return triage.candidate_key is not None and ticket.candidate_key == triage.candidate_key


def _filed(config: AppConfig, entry: _Entry) -> FiledTicket:
    ticket, verdict, state = entry.ticket, entry.verdict, entry.state
    return FiledTicket(
        ticket_id=ticket.id,
        ref=tickets.display_id(config, ticket.id),
        created=entry.created,
        issue=state["issue"],
        status=state["status"],
        priority=state["priority"],
        action=verdict.action,
        owner=state["owner"],
        rule=state["routing_rule"],
        answer=verdict.answer if verdict.action == "answer" else None,
        facts_summary=list(verdict.facts_summary),
        group_id=ticket.group_id,
        identity_unverified=state["identity_status"] == UNVERIFIED,
    )


def _priority(verdict: IssueVerdict, triage: TriagedMessage, chase_count: int) -> str:
    return priority_for(
        default=verdict.default_priority,
        issue=verdict.issue,
        anger=triage.signals.angry,
        chase_count=chase_count,
        waiting_days=triage.signals.waiting_days,
    )


def _create(
    session: Session,
    config: AppConfig,
    *,
    message: Message,
    triage: TriagedMessage,
    verdict: IssueVerdict,
    now: datetime,
    lookups: Lookups,
) -> Ticket:
    ticket = tickets.open_ticket(
        session,
        source=triage.source,
        now=now,
        issue=verdict.issue,
        candidate_key=triage.candidate_key,
        candidate_mcp_id=triage.candidate_mcp_id,
        subject=message.subject,
        priority=_priority(verdict, triage, triage.signals.chasing),
        confidence=verdict.score,
        actor=triage.actor or tickets.SYSTEM,
        decision=verdict.action,
        entities=triage.entities,
        facts=verdict.facts,
        facts_summary=list(verdict.facts_summary),
        chase_count=triage.signals.chasing,
        flush=not lookups.defers_writes,
    )
    lookups.opened(ticket)
    lookups.link(ticket, message)
    if triage.identity_unverified:
        _mark_unverified(session, ticket=ticket, triage=triage, now=now)
    sla.start_clock(ticket, config=config, now=now)
    carry_out(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now,
              lookups=lookups)  # fmt: skip
    return ticket


def _mark_unverified(
    session: Session, *, ticket: Ticket, triage: TriagedMessage, now: datetime
) -> None:
    """Link the ticket to the candidate the writer names, for an agent to verify."""
    ticket.identity_status, ticket.named_mcp_id = UNVERIFIED, triage.named_mcp_id
    tickets.record_event(
        session, ticket=ticket, actor=tickets.SYSTEM, action="identity-unverified",
        from_status=ticket.status, to_status=ticket.status, now=now,
        reason=f"names MCP {triage.named_mcp_id}; the writer is not proven to be them",
        data={"named_mcp_id": triage.named_mcp_id},
    )  # fmt: skip


def _thread(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    message: Message,
    triage: TriagedMessage,
    verdict: IssueVerdict,
    now: datetime,
    lookups: Lookups,
) -> None:
    lookups.link(ticket, message)
    named_only_now = ticket.identity_status is None and not ticket.candidate_mcp_id
    if triage.identity_unverified and named_only_now:
        _mark_unverified(session, ticket=ticket, triage=triage, now=now)
    ticket.chase_count = max(ticket.chase_count + 1, triage.signals.chasing)
    tickets.record_event(
        session, ticket=ticket, actor=triage.actor or triage.candidate_key or "candidate",
        action="follow-up", from_status=ticket.status, to_status=ticket.status, now=now,
        data={"message_id": message.id, "chase_count": ticket.chase_count},
    )  # fmt: skip
    if verdict.facts_summary:
        ticket.facts, ticket.facts_summary = verdict.facts, list(verdict.facts_summary)
    raised = _priority(verdict, triage, ticket.chase_count)
    if rank(raised) > rank(ticket.priority):
        tickets.record_event(
            session, ticket=ticket, actor=tickets.SYSTEM, action="priority",
            from_status=ticket.status, to_status=ticket.status, now=now,
            reason=f"raised from {ticket.priority} to {raised}: the candidate chased",
            data={"from": ticket.priority, "to": raised},
        )  # fmt: skip
        ticket.priority = raised
        if ticket.sla_paused_at is None:
            sla.start_clock(ticket, config=config, now=now)
    if ticket.status == tickets.WAITING:
        # The candidate wrote: the clock resumes, measured in the calendar of the owner who has
        # the ticket from now on (routing first when this message escalates it).
        if verdict.action == "escalate":
            carry_out(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now,
                      lookups=lookups)  # fmt: skip
            sla.resume(ticket, now=now, calendar=sla.calendar_for(config, ticket.owner))
        else:
            sla.resume(ticket, now=now, calendar=sla.calendar_for(config, ticket.owner))
            carry_out(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now,
                      lookups=lookups)  # fmt: skip
    elif ticket.status == tickets.NEW or (
        ticket.status == tickets.ANSWERED and verdict.action == "escalate"
    ):
        carry_out(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now,
                  lookups=lookups)  # fmt: skip
    ticket.updated_at = now


def carry_out(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    triage: TriagedMessage,
    verdict: IssueVerdict,
    now: datetime,
    lookups: Lookups | None = None,
) -> None:
    """Carry out the verdict's action on an open ticket."""
    lookups = lookups or SessionLookups(session)
    ticket.decision = verdict.action
    if verdict.action == "answer":
        ticket.answer = verdict.answer
        tickets.transition(
            session, ticket=ticket, to_status=tickets.ANSWERED, actor=tickets.SYSTEM,
            action="answer", now=now, config=config,
        )  # fmt: skip
        # The answer is enqueued in this same transaction, so it counts as sent now.
        seconds = sla.elapsed_business_seconds(
            ticket, now=now, calendar=sla.calendar_for(config, ticket.owner)
        )
        tickets.record_first_response(session, ticket=ticket, now=now, business_seconds=seconds)
    elif verdict.action == "ask-id":
        if ticket.status != tickets.WAITING:
            tickets.transition(
                session, ticket=ticket, to_status=tickets.WAITING, actor=tickets.SYSTEM,
                action="ask-id", reason="asked the candidate for their MCP ID", now=now,
                config=config,
            )  # fmt: skip
        sla.pause(ticket, now=now)
    elif verdict.action == "escalate":
        if verdict.answer:
            ticket.answer = verdict.answer  # a draft: an agent reviews it and may send it
        chosen = choose_owner(
            session, config, ticket=ticket, triage=triage, verdict=verdict, lookups=lookups
        )
        event = tickets.escalate(
            session, ticket=ticket, owner=chosen.owner, rule=chosen.rule, team=chosen.team,
            actor=tickets.SYSTEM, reason=f"routed by rule {chosen.rule}", now=now, config=config,
        )  # fmt: skip
        sla.start_clock(ticket, config=config, now=now)
        lookups.escalated(
            config, ticket=ticket, event=event, recipient=chosen.owner,
            reason=f"assigned to you by rule {chosen.rule}", now=now,
        )  # fmt: skip


def choose_owner(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    triage: TriagedMessage,
    verdict: IssueVerdict,
    lookups: Lookups | None = None,
) -> Route:
    """Route by the rules; when none matches, the knowledge file's team before the lead."""
    load = lookups.open_load() if lookups is not None else open_load(session)
    chosen = route(
        config, issue=ticket.issue, region=triage.region, country=triage.country,
        exams=triage.exams, priority=ticket.priority, source=ticket.source, open_load=load,
    )  # fmt: skip
    if chosen.rule == DEFAULT_RULE and verdict.team in config.teams:
        team = verdict.team
        return Route(pick_member(config, team, load), team, f"knowledge-team:{team}")
    return chosen


def _resolve_thanked(
    session: Session,
    config: AppConfig,
    *,
    message: Message,
    triage: TriagedMessage,
    now: datetime,
    lookups: Lookups,
) -> Filing:
    """A "solved, thanks": resolve the tickets it refers to; never opens one."""
    referenced = _referenced_ticket(lookups, triage=triage)
    if referenced is not None:
        targets = [referenced]
    else:
        targets = [t for t in lookups.thread_tickets(message) if _writers_own(t, triage)]
        if not targets and triage.candidate_key:
            mine = lookups.open_tickets_of(candidate_key=triage.candidate_key)
            targets = mine if len(mine) == 1 else []  # several open: a person decides
    thanks = IssueVerdict(issue=NOT_A_REQUEST, action="none")
    filing = Filing(grouped=False)
    writer = Actor(
        name=triage.candidate_key or "candidate", kind="candidate",
        candidate_key=triage.candidate_key,
    )  # fmt: skip
    for ticket in [t for t in targets if actions.may(config, writer, Act.RESOLVE, ticket=t)]:
        lookups.link(ticket, message)
        actions.resolve(
            session, config, ticket=ticket, actor=writer, now=now,
            note="the candidate wrote that it is solved",
        )  # fmt: skip
        filing.add(ticket, False, thanks)
    return filing
