"""SLA arithmetic: business time in an owner's calendar, due dates, the paused clock, SLA state.

Pure: every function takes the time it needs. A calendar of `None` means 24/7. Business hours are
read in the calendar's own time zone (so daylight saving moves them correctly); all arithmetic is
done in UTC.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.config.app import AppConfig, Calendar, SlaTarget
from bot.store.models import Ticket

SlaState = Literal["breached", "due soon", "fine", "paused"]
DEFAULT_TARGET = SlaTarget(first_response=timedelta(hours=8), resolution=timedelta(days=3))
_MAX_DAYS = 3 * 366  # a calendar that never opens must not loop for ever


def calendar_for(config: AppConfig, owner_id: str | None) -> Calendar | None:
    """The owner's business calendar, or None (24/7) for no owner or a 24x7 owner."""
    owner = config.find_owner(owner_id)
    if owner is None or owner.calendar == "24x7":
        return None
    calendar = config.calendars[owner.calendar]
    return calendar if calendar.hours else None


def _windows(calendar: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Opening windows (UTC) from the local day of `start` onwards."""
    zone = ZoneInfo(calendar.timezone)
    hours = calendar.opening_hours()
    holidays = set(calendar.holidays)
    day: date = start.astimezone(zone).date()
    for _ in range(_MAX_DAYS):
        if day not in holidays and day.weekday() in hours:
            opens, closes = hours[day.weekday()]
            yield (
                datetime.combine(day, opens, zone).astimezone(UTC),
                datetime.combine(day, closes, zone).astimezone(UTC),
            )
        day += timedelta(days=1)
    raise ValueError(f"calendar in {calendar.timezone} has no business hours in three years")


def add_business_time(start: datetime, duration: timedelta, calendar: Calendar | None) -> datetime:
    """The moment `duration` of business time after `start`."""
    start = start.astimezone(UTC)
    if calendar is None or duration <= timedelta(0):
        return start + max(duration, timedelta(0))
    remaining = duration
    for opens, closes in _windows(calendar, start):
        begin = max(start, opens)
        if begin >= closes:
            continue
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable")  # _windows raises first


def business_time_between(a: datetime, b: datetime, calendar: Calendar | None) -> timedelta:
    """Business time from `a` to `b` (zero when `b` is not after `a`)."""
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    if b <= a:
        return timedelta(0)
    if calendar is None:
        return b - a
    total = timedelta(0)
    for opens, closes in _windows(calendar, a):
        if opens >= b:
            break
        begin, end = max(a, opens), min(b, closes)
        if end > begin:
            total += end - begin
    return total


def target(config: AppConfig, priority: str) -> SlaTarget:
    return config.sla.get(priority, DEFAULT_TARGET)  # type: ignore[call-overload]


def due_dates(
    config: AppConfig, *, priority: str, start: datetime, calendar: Calendar | None
) -> tuple[datetime, datetime]:
    """(first response due, resolution due) for a ticket of `priority` opened at `start`."""
    goal = target(config, priority)
    return (
        add_business_time(start, goal.first_response, calendar),
        add_business_time(start, goal.resolution, calendar),
    )


def start_clock(ticket: Ticket, *, config: AppConfig, now: datetime) -> None:
    """Set the ticket's due dates from its priority and owner's calendar, counting from its
    creation and skipping any business time it spent paused."""
    calendar = calendar_for(config, ticket.owner)
    start = ticket.created_at or now
    paused = timedelta(seconds=ticket.sla_paused_seconds or 0)
    first, resolution = due_dates(config, priority=ticket.priority, start=start, calendar=calendar)
    ticket.first_response_due_at = add_business_time(first, paused, calendar)
    ticket.sla_due_at = add_business_time(resolution, paused, calendar)


def pause(ticket: Ticket, *, now: datetime) -> bool:
    """Stop the clock while waiting on the candidate; False when it was already stopped."""
    if ticket.sla_paused_at is not None:
        return False
    ticket.sla_paused_at = now
    return True


def resume(ticket: Ticket, *, now: datetime, calendar: Calendar | None) -> timedelta:
    """Restart the clock: due dates move out by the business time spent paused."""
    if ticket.sla_paused_at is None:
        return timedelta(0)
    paused = business_time_between(ticket.sla_paused_at, now, calendar)
    if ticket.first_response_at is None and ticket.first_response_due_at is not None:
        ticket.first_response_due_at = add_business_time(
            ticket.first_response_due_at, paused, calendar
        )
    if ticket.sla_due_at is not None:
        ticket.sla_due_at = add_business_time(ticket.sla_due_at, paused, calendar)
    ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + int(paused.total_seconds())
    ticket.sla_paused_at = None
    return paused


def hand_over(ticket: Ticket, *, now: datetime, old: Calendar | None, new: Calendar | None) -> None:
    """A new owner takes the ticket: the business time left on each running target, counted in
    the old owner's calendar, is laid out again in the new owner's, so the candidate's promise
    neither shrinks nor grows by the handoff. A target already missed stays where it was; a
    paused clock is measured from when it stopped."""
    if old == new:
        return
    since = ticket.sla_paused_at or now

    def carried(due: datetime) -> datetime:
        if due <= since:
            return due
        return add_business_time(since, business_time_between(since, due, old), new)

    if ticket.first_response_at is None and ticket.first_response_due_at is not None:
        ticket.first_response_due_at = carried(ticket.first_response_due_at)
    if ticket.sla_due_at is not None:
        ticket.sla_due_at = carried(ticket.sla_due_at)


def elapsed_business_seconds(ticket: Ticket, *, now: datetime, calendar: Calendar | None) -> int:
    """Business time since the ticket opened, minus the time it spent paused."""
    elapsed = business_time_between(ticket.created_at, now, calendar)
    return max(int(elapsed.total_seconds()) - (ticket.sla_paused_seconds or 0), 0)


def active_due(ticket: Ticket) -> tuple[str, datetime | None]:
    """Which target the ticket is racing now, and when it is due."""
    if ticket.first_response_at is None:
        return "first response", ticket.first_response_due_at
    return "resolution", ticket.sla_due_at


def sla_state(ticket: Ticket, *, now: datetime, due_soon: timedelta) -> SlaState:
    if ticket.sla_paused_at is not None:
        return "paused"
    _, due = active_due(ticket)
    if due is None:
        return "fine"
    if now >= due:
        return "breached"
    return "due soon" if now >= due - due_soon else "fine"


def format_span(span: timedelta) -> str:
    """`2d 4h`, `3h 5m`, `12m` (whole minutes, largest two units)."""
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"
