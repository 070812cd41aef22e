"""The worker job: every `surges.every`, read the window's and the history's tickets, detect
(`bot.surges.detect`), and keep the database's surges current: a new group becomes a surge with
its tickets linked and the triage lead alerted; a group that continues a surge adds its new
tickets, and an open surge that grew updates its alert. Never on the intake path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.app import AppConfig
from bot.config.settings import Settings
from bot.delivery.messages import SurgeSample
from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.matcher import shipped_model
from bot.matching.model import Thresholds
from bot.matching.registry import newest_passing_id
from bot.ops.worker import Job
from bot.store.models import Message, Ticket, TicketMessage
from bot.store.models.matching import MatcherModel
from bot.store.models.records import Candidate
from bot.store.models.surges import Surge, SurgeTicket
from bot.surges import grouping
from bot.surges.alerts import send_alert
from bot.surges.detect import Group, Window, alike_by, detect, match, news_since, phrasing
from bot.surges.readings import Reading
from bot.surges.textspace import TextSpace
from bot.text.parse import parse_message
from bot.tickets.lifecycle import display_id

JOB = "surges"
SPACE_READINGS = 3000  # the idf is learned on the newest this many readings of the history
SAMPLES = 3
_STRENGTH = ["new", "grew", "same"]  # what one run did to a surge, several groups at once


def thresholds_in_use(session: Session) -> Thresholds:
    """The thresholds of the model intake uses (the deployment's newest passing one)."""
    model_id = newest_passing_id(session)
    if model_id is not None:
        figures = session.get_one(MatcherModel, model_id).figures or {}
        if figures.get("thresholds"):
            return Thresholds(**figures["thresholds"])
    return shipped_model().thresholds


def load_readings(session: Session, *, since: datetime, until: datetime) -> list[Reading]:
    """One reading per message that opened a ticket in (since, until], oldest first."""
    return _readings(
        session,
        (Ticket.created_at > since, Ticket.created_at <= until, Ticket.merged_into_id.is_(None)),
    )


def load_ticket_readings(session: Session, ticket_ids: Sequence[int]) -> list[Reading]:
    """The readings of these tickets (a surge's), oldest first."""
    return _readings(session, (Ticket.id.in_(list(ticket_ids)),)) if ticket_ids else []


def _readings(session: Session, where: tuple[Any, ...]) -> list[Reading]:
    tickets = session.execute(
        select(Ticket.id, Ticket.created_at, Ticket.issue, Ticket.confidence, Ticket.entities,
               Ticket.subject, Ticket.candidate_key, Candidate.name)
        .outerjoin(Candidate, Candidate.mcp_id == Ticket.candidate_mcp_id)
        .where(*where)
        .order_by(Ticket.created_at, Ticket.id)
    ).all()  # fmt: skip
    if not tickets:
        return []
    first = (
        select(TicketMessage.ticket_id, func.min(TicketMessage.message_id).label("message_id"))
        .where(TicketMessage.ticket_id.in_([t.id for t in tickets]))
        .group_by(TicketMessage.ticket_id)
        .subquery()
    )
    firsts = session.execute(
        select(first.c.ticket_id, Message.id, Message.body).join(
            Message, Message.id == first.c.message_id
        )
    ).all()
    bodies = {ticket_id: body for ticket_id, _, body in firsts}
    message_of = {ticket_id: message_id for ticket_id, message_id, _ in firsts}
    readings, seen = [], set()
    for t in tickets:
        # A message with several issues opened several tickets: it is one voice, read once.
        message_id = message_of.get(t.id)
        if message_id is not None and message_id in seen:
            continue
        seen.add(message_id)
        parsed = parse_message(bodies.get(t.id) or t.subject or "")
        readings.append(
            Reading.of(
                t.id,
                t.created_at,
                parsed.new_text,
                t.issue,
                t.confidence,
                t.entities or parsed.entities.model_dump(),
                codes=parsed.secret_codes,
                names=(t.name,) if t.name else (),  # scrubbed wherever the text is shown
                writer=t.candidate_key,
            )
        )
    return readings


def run(
    session: Session,
    config: AppConfig,
    *,
    now: datetime,
    vocabulary: Sequence[str] = (),
    catalogue: Sequence[str] = (),
) -> list[tuple[Surge, str]]:
    """One detection run; returns each surge touched and what happened to it (`new`, `grew`,
    `same`). `vocabulary`: everyday texts (the knowledge examples) that teach the idf beside
    the history, so a desk with little history still tells everyday words from a new problem's;
    `catalogue`: the known issue ids, which the alert offers to merge into."""
    settings = config.surges
    since = now - settings.history
    start = now - settings.window
    readings = load_readings(session, since=since, until=now)
    window = [r for r in readings if r.at > start]
    history = [r for r in readings if r.at <= start]
    oldest = session.scalar(select(func.min(Ticket.created_at)))
    covered = start - max(oldest, since) if oldest is not None else timedelta(0)
    linked = session.execute(
        select(SurgeTicket.ticket_id, SurgeTicket.surge_id, Surge.status)
        .join(Surge, Surge.id == SurgeTicket.surge_id)
        .where(Surge.last_at >= since)
    ).all()
    excluded = frozenset(t for t, _s, status in linked if status != "open")
    space = TextSpace([*_texts(vocabulary, now), *history[-SPACE_READINGS:]])
    groups = detect(
        Window(now=now, readings=window, history=history,
               history_span=max(covered, timedelta(0)), excluded=excluded),
        settings, thresholds_in_use(session), space=space,
    )  # fmt: skip
    alike = alike_by(space, {r.key: r for r in readings}, settings.similarity)
    surges: dict[int, set[int]] = {}
    for ticket_id, surge_id, _status in linked:
        surges.setdefault(surge_id, set()).add(ticket_id)
    touched: dict[int, tuple[Surge, str]] = {}
    for group in groups:
        [(_, surge_id)] = match([group], list(surges.items()), alike=alike)
        surge, what = _keep(session, config, group, surge_id, now=now, catalogue=catalogue)
        surges.setdefault(surge.id, set()).update(group.keys)
        before = touched.get(surge.id, (surge, "same"))[1]
        touched[surge.id] = (surge, min(before, what, key=_STRENGTH.index))
    return list(touched.values())


def _texts(texts: Sequence[str], now: datetime) -> list[Reading]:
    return [Reading(key=-1, at=now, text=t, issue=None, confidence=0.0) for t in texts]


def examples(knowledge: KnowledgeBase) -> list[str]:
    """Every example phrasing of the known issues: the desk's everyday vocabulary."""
    return [example for issue in knowledge.issues.values() for example in issue.examples]


def _keep(
    session: Session,
    config: AppConfig,
    group: Group,
    surge_id: int | None,
    *,
    now: datetime,
    catalogue: Sequence[str],
) -> tuple[Surge, str]:
    first_at = min(r.at for r in group.members)
    last_at = max(r.at for r in group.members)
    if surge_id is None:
        surge = Surge(
            kind=group.kind, status="open", issue=group.issue, suggested=group.suggested,
            shared=group.shared, count=0, expected=group.expected, tail=group.tail,
            first_at=first_at, last_at=last_at, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(surge)
        session.flush()
        what = "new"
    else:
        surge = session.get_one(Surge, surge_id)
        what = "same"
    have = set(
        session.scalars(select(SurgeTicket.ticket_id).where(SurgeTicket.surge_id == surge.id))
    )
    added = [k for k in sorted(group.keys) if k not in have]
    for ticket_id in added:
        session.add(SurgeTicket(surge_id=surge.id, ticket_id=ticket_id, added_at=now))
    if added or what == "new":
        surge.count = len(have) + len(added)
        surge.last_at = max(surge.last_at, last_at)
        surge.first_at = min(surge.first_at, first_at)
        surge.updated_at = now
        if surge.status == "open" and what != "new":
            surge.shared = group.shared  # what the group shares now, with its newer members
        session.flush()
        if what == "same":
            what = "grew"
    if surge.status == "open":
        send_alert(
            session, config, surge, samples=samples(config, group.members), now=now,
            catalogue=catalogue,
        )  # fmt: skip
    return surge, what


def samples(config: AppConfig, members: Sequence[Reading]) -> list[SurgeSample]:
    """The alert's sample messages: the group's most typical (its phrasings), as the lead may
    see them."""
    return [
        SurgeSample(ref=display_id(config, r.key), text=phrasing(r, members))
        for r in _typical(members)
    ]


def _typical(members: Sequence[Reading]) -> list[Reading]:
    space = TextSpace(members)
    return grouping.typical(members, space.similarities(members), SAMPLES)


def run_job(
    factory: sessionmaker[Session],
    config: AppConfig,
    now: datetime,
    knowledge: KnowledgeBase,
    news: datetime | None = None,
) -> str:
    """The worker's entry: one run in one transaction, summarised in a line; none when no
    ticket was opened after `news` (`detect.news_since`)."""
    with factory() as session, session.begin():
        if news is not None and not session.scalar(
            select(Ticket.id).where(Ticket.created_at > news, Ticket.created_at <= now).limit(1)
        ):
            return "no new tickets"
        touched = run(
            session, config, now=now, vocabulary=examples(knowledge),
            catalogue=sorted(knowledge.issues),
        )  # fmt: skip
    new = sum(1 for _, what in touched if what == "new")
    grew = sum(1 for _, what in touched if what == "grew")
    return f"{new} new surges, {grew} grew"


def surge_jobs(settings: Settings) -> list[Job]:
    """The worker's surge detection job (none when `surges.enabled` is false)."""
    config = settings.app
    if not config.surges.enabled:
        return []
    every = config.surges.every
    knowledge = load_knowledge(settings.knowledge_dir)
    last: datetime | None = None  # this process's last look (another's only adds looks)

    def look(factory: sessionmaker[Session], now: datetime) -> str:
        nonlocal last
        summary = run_job(factory, config, now, knowledge, news=news_since(last))
        last = now
        return summary

    return [Job(JOB, look, first_run=lambda now: now, next_run=lambda now: now + every)]
