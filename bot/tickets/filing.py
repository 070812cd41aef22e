"""Filing a triaged message: open, thread or resolve tickets, route escalations, start SLA clocks.

The intake (`bot/intake/flow.py`) parses, matches and checks the records, builds a `TriagedMessage`
and calls `file_triaged_message` in the same transaction that stored the message, so the tickets,
their audit trail and the owners' notifications commit together.
"""

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.notifications import notify_escalation
from bot.store.models import OPEN_STATUSES, Message, Ticket, TicketMessage
from bot.tickets import lifecycle as tickets
from bot.tickets import sla
from bot.tickets.priority import priority_for, rank
from bot.tickets.routing import DEFAULT_RULE, Route, pick_member, route
from bot.types import NOT_A_REQUEST, FiledTicket, IssueVerdict, TriagedMessage


def file_triaged_message(
    session: Session,
    config: AppConfig,
    *,
    message: Message,
    triage: TriagedMessage,
    now: datetime,
) -> list[FiledTicket]:
    """Open or thread one ticket per issue of `message` (linked by `group_id`), or resolve the
    tickets a "solved, thanks" refers to. The caller commits."""
    verdicts = _distinct([v for v in triage.verdicts if v.issue != NOT_A_REQUEST])
    if not verdicts:
        if triage.signals.thanks:
            return _resolve_thanked(session, config, message=message, triage=triage, now=now)
        return []
    referenced = _referenced_ticket(session, triage=triage)
    filed: list[tuple[Ticket, bool, IssueVerdict]] = []
    for verdict in verdicts:
        ticket = None
        if referenced is not None and (len(verdicts) == 1 or referenced.issue == verdict.issue):
            ticket = referenced
        elif triage.candidate_key:
            ticket = tickets.find_open_ticket(
                session, candidate_key=triage.candidate_key, issue=verdict.issue
            )
        if ticket is not None:
            _thread(session, config, ticket=ticket, message=message, triage=triage,
                    verdict=verdict, now=now)  # fmt: skip
            filed.append((ticket, False, verdict))
        else:
            ticket = _create(session, config, message=message, triage=triage, verdict=verdict,
                             now=now)  # fmt: skip
            filed.append((ticket, True, verdict))
    group = next((t.group_id for t, created, _ in filed if not created and t.group_id), None)
    group = group or filed[0][0].id
    for ticket, created, _ in filed:
        if created or ticket.group_id is None:
            ticket.group_id = group
    session.flush()
    return [_filed(config, t, created, v) for t, created, v in filed]


def _distinct(verdicts: list[IssueVerdict]) -> list[IssueVerdict]:
    seen: set[str | None] = set()
    kept = []
    for verdict in verdicts:
        if verdict.issue not in seen:
            seen.add(verdict.issue)
            kept.append(verdict)
    return kept


def _referenced_ticket(session: Session, *, triage: TriagedMessage) -> Ticket | None:
    if triage.ticket_id is None:
        return None
    ticket = session.get(Ticket, triage.ticket_id)
    if ticket is None or ticket.status not in OPEN_STATUSES:
        return None
    if triage.candidate_key and ticket.candidate_key not in (None, triage.candidate_key):
        return None  # someone else's ticket number in a subject line
    return ticket


def _filed(config: AppConfig, ticket: Ticket, created: bool, verdict: IssueVerdict) -> FiledTicket:
    return FiledTicket(
        ticket_id=ticket.id,
        ref=tickets.display_id(config, ticket.id),
        created=created,
        issue=ticket.issue,
        status=ticket.status,
        priority=ticket.priority,
        action=verdict.action,
        owner=ticket.owner,
        rule=ticket.routing_rule,
        answer=verdict.answer if verdict.action == "answer" else None,
        facts_summary=list(verdict.facts_summary),
        group_id=ticket.group_id,
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
    )
    tickets.link_message(session, ticket=ticket, message=message)
    sla.start_clock(ticket, config=config, now=now)
    _act(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now)
    return ticket


def _thread(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    message: Message,
    triage: TriagedMessage,
    verdict: IssueVerdict,
    now: datetime,
) -> None:
    tickets.link_message(session, ticket=ticket, message=message)
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
            _act(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now)
            sla.resume(ticket, now=now, calendar=sla.calendar_for(config, ticket.owner))
        else:
            sla.resume(ticket, now=now, calendar=sla.calendar_for(config, ticket.owner))
            _act(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now)
    elif ticket.status == tickets.NEW or (
        ticket.status == tickets.ANSWERED and verdict.action == "escalate"
    ):
        _act(session, config, ticket=ticket, triage=triage, verdict=verdict, now=now)
    ticket.updated_at = now


def _act(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    triage: TriagedMessage,
    verdict: IssueVerdict,
    now: datetime,
) -> None:
    """Carry out the verdict's action on an open ticket."""
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
        chosen = choose_owner(session, config, ticket=ticket, triage=triage, verdict=verdict)
        event = tickets.escalate(
            session, ticket=ticket, owner=chosen.owner, rule=chosen.rule, team=chosen.team,
            actor=tickets.SYSTEM, reason=f"routed by rule {chosen.rule}", now=now, config=config,
        )  # fmt: skip
        sla.start_clock(ticket, config=config, now=now)
        session.flush()
        notify_escalation(
            session, config, ticket=ticket, recipient=chosen.owner, level=f"route-{event.id}",
            reason=f"assigned to you by rule {chosen.rule}", now=now,
        )  # fmt: skip


def open_load(session: Session) -> dict[str, int]:
    """Open tickets per owner, for choosing among a team's members."""
    query = (
        select(Ticket.owner, func.count())
        .where(Ticket.status.in_(OPEN_STATUSES), Ticket.owner.is_not(None))
        .group_by(Ticket.owner)
    )
    return {owner: count for owner, count in session.execute(query).all()}


def choose_owner(
    session: Session,
    config: AppConfig,
    *,
    ticket: Ticket,
    triage: TriagedMessage,
    verdict: IssueVerdict,
) -> Route:
    """Route by the rules; when none matches, the knowledge file's team before the lead."""
    load = open_load(session)
    chosen = route(
        config, issue=ticket.issue, region=triage.region, country=triage.country,
        exams=triage.exams, priority=ticket.priority, source=ticket.source, open_load=load,
    )  # fmt: skip
    if chosen.rule == DEFAULT_RULE and verdict.team in config.teams:
        team = verdict.team
        return Route(pick_member(config, team, load), team, f"knowledge-team:{team}")
    return chosen


def _thread_tickets(session: Session, *, message: Message) -> list[Ticket]:
    """Open tickets holding an earlier message of the same conversation as `message`."""
    keys = [k for k in (message.thread_key, message.in_reply_to) if k]
    if not keys:
        return []
    related = (
        select(TicketMessage.ticket_id)
        .join(Message, Message.id == TicketMessage.message_id)
        .where(
            Message.source == message.source,
            Message.id != message.id,
            or_(Message.thread_key.in_(keys), Message.external_id.in_(keys)),
        )
    )
    query = select(Ticket).where(Ticket.id.in_(related), Ticket.status.in_(OPEN_STATUSES))
    return list(session.scalars(query.order_by(Ticket.id)))


def _resolve_thanked(
    session: Session,
    config: AppConfig,
    *,
    message: Message,
    triage: TriagedMessage,
    now: datetime,
) -> list[FiledTicket]:
    """A "solved, thanks": resolve the tickets it refers to; never opens one."""
    referenced = _referenced_ticket(session, triage=triage)
    if referenced is not None:
        targets = [referenced]
    else:
        targets = _thread_tickets(session, message=message)
        if triage.candidate_key:
            targets = [t for t in targets if t.candidate_key in (None, triage.candidate_key)]
        if not targets and triage.candidate_key:
            mine = tickets.open_tickets_of(session, candidate_key=triage.candidate_key)
            targets = mine if len(mine) == 1 else []  # several open: a person decides
    thanks = IssueVerdict(issue=NOT_A_REQUEST, action="none")
    filed = []
    for ticket in targets:
        tickets.link_message(session, ticket=ticket, message=message)
        calendar = sla.calendar_for(config, ticket.owner)
        sla.resume(ticket, now=now, calendar=calendar)
        tickets.resolve(
            session, ticket=ticket, actor=triage.candidate_key or "candidate", now=now,
            note="the candidate wrote that it is solved",
            business_seconds=sla.elapsed_business_seconds(ticket, now=now, calendar=calendar),
            config=config,
        )  # fmt: skip
        filed.append(_filed(config, ticket, False, thanks))
    session.flush()
    return filed
