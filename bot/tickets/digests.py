"""Owner digests: the owner's open tickets grouped by issue, oldest first, with age, SLA state,
candidate and record facts; counts and the change since the last digest; a chart of new tickets.

`build_digest` reads; `render_text`/`render_html` format (Jinja2 templates in
`bot/tickets/templates/`);
`send_digest` enqueues the Slack DM and the email on the outbox and records the run.
"""

import base64
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.delivery.messages import Chart, DigestMessage, dump
from bot.delivery.notifications import candidate_label, contacts, masked_facts
from bot.delivery.outbox import enqueue
from bot.privacy.masking import mask_codes
from bot.store.models import OPEN_STATUSES, Ticket
from bot.store.models.sla import DigestRun
from bot.tickets.charts import new_tickets_chart
from bot.tickets.lifecycle import display_id
from bot.tickets.sla import format_span, sla_state

TEMPLATES = Path(__file__).parent / "templates"
CHART_DAYS = 14
MAX_PER_GROUP = 25  # the oldest are listed; the rest are counted
UNKNOWN = "unknown issue"
CHART_CID = "digest-chart"
SUBJECT_CHARS = 90


class DigestTicket(BaseModel):
    id: int
    ref: str
    status: str
    priority: str
    created_at: datetime
    age: str
    sla_state: str
    due_at: datetime | None
    candidate: str
    subject: str | None = None  # what the candidate wrote: escaped in HTML, codes masked
    facts: str


class DigestGroup(BaseModel):
    issue: str | None
    label: str
    count: int
    tickets: list[DigestTicket]

    @property
    def hidden(self) -> int:
        return self.count - len(self.tickets)


class DigestCounts(BaseModel):
    open: int = 0
    breached: int = 0
    due_soon: int = 0
    fine: int = 0
    paused: int = 0


class DigestChange(BaseModel):
    since: datetime | None = None  # the last digest sent, None for the first
    open_before: int | None = None
    open_delta: int | None = None
    new: int = 0
    resolved: int = 0


class ChartData(BaseModel):
    days: list[date]
    series: dict[str, list[int]]  # issue label -> new tickets per day


class Digest(BaseModel):
    owner: str
    owner_name: str
    timezone: str
    generated_at: datetime
    local_date: date
    counts: DigestCounts
    change: DigestChange
    groups: list[DigestGroup]
    chart: ChartData


def _label(issue: str | None) -> str:
    return issue or UNKNOWN


def _group_order(issue: str | None) -> tuple[bool, str]:
    return (issue is None, issue or "")


def build_digest(session: Session, config: AppConfig, *, owner_id: str, now: datetime) -> Digest:
    """The digest for `owner_id` as of `now` (reads only)."""
    owner = config.owner(owner_id)
    zone = ZoneInfo(owner.timezone)
    due_soon = config.escalation.due_soon
    # Only the columns the SLA state needs for every ticket; whole rows for the ones listed.
    query = (
        select(
            Ticket.id,
            Ticket.issue,
            Ticket.first_response_at,
            Ticket.first_response_due_at,
            Ticket.sla_due_at,
            Ticket.sla_paused_at,
        )
        .where(Ticket.owner == owner_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.created_at, Ticket.id)
    )
    counts = DigestCounts()
    grouped: dict[str | None, list[int]] = defaultdict(list)
    sizes: Counter[str | None] = Counter()
    states: dict[int, str] = {}
    for row in session.execute(query):
        state = sla_state(row, now=now, due_soon=due_soon)  # type: ignore[arg-type]
        counts.open += 1
        field = state.replace(" ", "_")
        setattr(counts, field, getattr(counts, field) + 1)
        sizes[row.issue] += 1
        if len(grouped[row.issue]) < MAX_PER_GROUP:
            grouped[row.issue].append(row.id)
            states[row.id] = state
    shown = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(list(states))))}
    groups = [
        DigestGroup(
            issue=issue,
            label=_label(issue),
            count=sizes[issue],
            tickets=[
                _digest_ticket(config, shown[tid], now=now, state=states[tid])
                for tid in grouped[issue]
            ],
        )
        for issue in sorted(grouped, key=_group_order)
    ]
    return Digest(
        owner=owner.id,
        owner_name=owner.name,
        timezone=owner.timezone,
        generated_at=now,
        local_date=now.astimezone(zone).date(),
        counts=counts,
        change=_change(session, owner_id=owner_id, now=now, open_now=counts.open),
        groups=groups,
        chart=_chart_data(session, owner_id=owner_id, now=now, zone=zone),
    )


def _digest_ticket(config: AppConfig, ticket: Ticket, *, now: datetime, state: str) -> DigestTicket:
    due = ticket.sla_due_at if ticket.first_response_at else ticket.first_response_due_at
    return DigestTicket(
        id=ticket.id,
        ref=display_id(config, ticket.id),
        status=ticket.status,
        priority=ticket.priority,
        created_at=ticket.created_at,
        age=format_span(now - ticket.created_at),
        sla_state=state,
        due_at=due,
        candidate=candidate_label(ticket),
        subject=_one_line(ticket.subject),
        facts="; ".join(masked_facts(ticket)) or "no record facts",
    )


def _one_line(text: str | None) -> str | None:
    """A subject as one short line, codes masked (a digest is read on a phone)."""
    if not text or not text.strip():
        return None
    line = mask_codes(" ".join(text.split()))
    return line if len(line) <= SUBJECT_CHARS else line[: SUBJECT_CHARS - 1] + "…"


def _change(session: Session, *, owner_id: str, now: datetime, open_now: int) -> DigestChange:
    last = session.scalars(
        select(DigestRun)
        .where(DigestRun.owner == owner_id, DigestRun.run_at < now)
        .order_by(DigestRun.run_at.desc(), DigestRun.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return DigestChange()

    def count(*where: object) -> int:
        query = select(func.count()).select_from(Ticket).where(Ticket.owner == owner_id, *where)
        return session.scalar(query) or 0

    before = int(last.counts.get("open", 0))
    return DigestChange(
        since=last.run_at,
        open_before=before,
        open_delta=open_now - before,
        new=count(Ticket.created_at > last.run_at, Ticket.created_at <= now),
        resolved=count(Ticket.resolved_at > last.run_at, Ticket.resolved_at <= now),
    )


def _chart_data(session: Session, *, owner_id: str, now: datetime, zone: ZoneInfo) -> ChartData:
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], time(0), zone)
    rows = session.execute(
        select(Ticket.created_at, Ticket.issue).where(
            Ticket.owner == owner_id, Ticket.created_at >= start, Ticket.created_at <= now
        )
    ).all()
    per_day: Counter[tuple[str, date]] = Counter(
        (_label(issue), created.astimezone(zone).date()) for created, issue in rows
    )
    labels = sorted({label for label, _ in per_day}, key=lambda s: (s == UNKNOWN, s))
    return ChartData(
        days=days, series={label: [per_day[(label, day)] for day in days] for label in labels}
    )


def chart_png(digest: Digest) -> bytes:
    return new_tickets_chart(
        digest.chart.days,
        digest.chart.series,
        title=f"New tickets per day: {digest.owner_name} (last {CHART_DAYS} days)",
    )


def _environment() -> Environment:
    # Candidate addresses and subjects are in the digest: HTML templates (`*.html.j2`) escape
    # every value; `select_autoescape(["html"])` alone would not match that name.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _context(digest: Digest) -> dict[str, object]:
    zone = ZoneInfo(digest.timezone)
    return {
        "d": digest,
        "local": lambda value: value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-",
        "chart_cid": CHART_CID,
        "total_new": sum(sum(series) for series in digest.chart.series.values()),
    }


def render_text(digest: Digest) -> str:
    return _environment().get_template("digest.txt.j2").render(_context(digest))


def render_html(digest: Digest) -> str:
    return _environment().get_template("digest.html.j2").render(_context(digest))


def subject(digest: Digest) -> str:
    c = digest.counts
    return (
        f"Triage digest for {digest.owner_name}, {digest.local_date:%a %d %b %Y}: "
        f"{c.open} open, {c.breached} breached, {c.due_soon} due soon"
    )


def send_digest(
    session: Session,
    config: AppConfig,
    *,
    owner_id: str,
    now: datetime,
    channels: list[str] | None = None,
) -> tuple[Digest, dict[str, bool]]:
    """Build the digest, enqueue it per channel (once per owner and local day) and record the
    run; returns the digest and, per channel, whether a delivery was newly enqueued."""
    digest = build_digest(session, config, owner_id=owner_id, now=now)
    owner = config.owner(owner_id)
    wanted = channels if channels is not None else _scheduled_channels(config, owner_id)
    png = chart_png(digest)
    chart_b64 = base64.b64encode(png).decode("ascii")
    filename = f"digest-{owner_id}-{digest.local_date}.png"
    message = dump(
        DigestMessage(
            text=render_text(digest),
            subject=subject(digest),
            html=render_html(digest),
            digest=digest.model_dump(mode="json"),
            chart=Chart(filename=filename, title="New tickets", data_b64=chart_b64,
                        content_id=CHART_CID),
        )
    )  # fmt: skip
    added: dict[str, bool] = {}
    for channel, address in contacts(owner):
        if channel in wanted:
            added[channel] = enqueue(
                session, channel=channel, kind="digest", recipient=address, payload=message,
                dedupe_key=f"digest:{owner_id}:{digest.local_date}:{channel}", now=now,
            )  # fmt: skip
    if any(added.values()):
        session.add(
            DigestRun(owner=owner_id, run_at=now, counts=digest.counts.model_dump(), channels=added)
        )
    return digest, added


def _scheduled_channels(config: AppConfig, owner_id: str) -> list[str]:
    schedule = next((d for d in config.digests if d.owner == owner_id), None)
    return list(schedule.channels) if schedule else ["slack", "email"]
