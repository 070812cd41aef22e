"""SLA arithmetic with frozen clocks: business hours, weekends, holidays, time zones, pauses."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.config.app import AppConfig
from bot.store.models import Ticket
from bot.tickets.sla import (
    add_business_time,
    business_time_between,
    calendar_for,
    due_dates,
    format_span,
    hand_over,
    pause,
    resume,
    sla_state,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_business_hours_skip_a_holiday_and_a_weekend(config: AppConfig) -> None:
    emea = config.calendars["emea"]  # London 09:00-17:30; 25 and 28 December are holidays
    start = utc(2026, 12, 24, 16, 30)  # Thursday, an hour before closing
    assert add_business_time(start, timedelta(hours=8), emea) == utc(2026, 12, 29, 16, 0)
    assert business_time_between(start, utc(2026, 12, 29, 10, 0), emea) == timedelta(hours=2)


def test_time_starting_outside_hours_waits_for_opening(config: AppConfig) -> None:
    emea = config.calendars["emea"]
    saturday = utc(2026, 11, 28, 12, 0)
    assert add_business_time(saturday, timedelta(minutes=30), emea) == utc(2026, 11, 30, 9, 30)
    assert business_time_between(saturday, utc(2026, 11, 30, 9, 0), emea) == timedelta(0)


def test_calendars_follow_their_own_time_zone(config: AppConfig) -> None:
    chicago = config.calendars["north-america"]  # 08:00-17:00 Central; 26 Nov is Thanksgiving
    start = utc(2026, 11, 25, 22, 0)  # 16:00 in Chicago
    assert add_business_time(start, timedelta(hours=4), chicago) == utc(2026, 11, 27, 17, 0)


def test_business_hours_move_with_daylight_saving(config: AppConfig) -> None:
    emea = config.calendars["emea"]
    # London is UTC+1 in summer: 09:00 local opening is 08:00 UTC.
    assert add_business_time(utc(2026, 7, 1, 7, 0), timedelta(hours=1), emea) == utc(2026, 7, 1, 9)


def test_without_a_calendar_time_is_24x7(config: AppConfig) -> None:
    assert calendar_for(config, None) is None
    start = utc(2026, 11, 28, 12, 0)
    assert add_business_time(start, timedelta(hours=8), None) == utc(2026, 11, 28, 20, 0)
    assert business_time_between(start, start + timedelta(days=2), None) == timedelta(days=2)


def test_due_dates_come_from_the_priority_targets(config: AppConfig) -> None:
    first, resolution = due_dates(
        config, priority="high", start=utc(2026, 11, 25, 10), calendar=calendar_for(config, "lena")
    )
    # high: first response 4h; resolution 1d = 24 business hours: Wed 7.5h, Thu 8.5h, Fri 8h
    assert first == utc(2026, 11, 25, 14, 0)
    assert resolution == utc(2026, 11, 27, 17, 0)


def test_clock_pauses_while_waiting_on_the_candidate(config: AppConfig) -> None:
    emea = config.calendars["emea"]
    ticket = Ticket(
        created_at=utc(2026, 11, 25, 10), first_response_due_at=utc(2026, 11, 26, 9, 30),
        sla_due_at=utc(2026, 11, 30, 12), sla_paused_seconds=0, status="waiting-on-candidate",
    )  # fmt: skip
    assert pause(ticket, now=utc(2026, 11, 25, 10))
    assert sla_state(ticket, now=utc(2026, 12, 9), due_soon=timedelta(hours=2)) == "paused"
    paused = resume(ticket, now=utc(2026, 11, 26, 10), calendar=emea)
    assert paused == timedelta(hours=8, minutes=30)  # Wed 10:00-17:30 and Thu 09:00-10:00
    assert ticket.first_response_due_at == utc(2026, 11, 27, 9, 30)
    assert ticket.sla_due_at == utc(2026, 12, 1, 12, 0)
    assert ticket.sla_paused_seconds == 8.5 * 3600 and ticket.sla_paused_at is None


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (utc(2026, 11, 25, 11), "fine"),
        (utc(2026, 11, 25, 12), "due soon"),
        (utc(2026, 11, 25, 14), "breached"),
    ],
)
def test_sla_state(now: datetime, state: str) -> None:
    ticket = Ticket(first_response_due_at=utc(2026, 11, 25, 14), sla_due_at=utc(2026, 11, 28))
    assert sla_state(ticket, now=now, due_soon=timedelta(hours=2)) == state


def test_after_the_first_response_the_resolution_target_counts() -> None:
    ticket = Ticket(
        first_response_due_at=utc(2026, 11, 25, 14), first_response_at=utc(2026, 11, 25, 13),
        sla_due_at=utc(2026, 11, 28),
    )  # fmt: skip
    assert sla_state(ticket, now=utc(2026, 11, 26), due_soon=timedelta(hours=2)) == "fine"


def test_spans_read_like_people_write_them() -> None:
    assert [format_span(timedelta(minutes=m)) for m in (5, 60, 125, 1440, 1500)] == [
        "5m", "1h", "2h 5m", "1d", "1d 1h",
    ]  # fmt: skip


def test_a_handoff_keeps_the_business_time_left_in_the_new_calendar(config: AppConfig) -> None:
    chicago, london = calendar_for(config, "dev"), calendar_for(config, "lena")
    now = utc(2026, 11, 25, 16, 0)  # Wednesday: 10:00 in Chicago, 16:00 in London
    ticket = Ticket(
        first_response_due_at=utc(2026, 11, 25, 22, 0),  # six of Chicago's hours away
        sla_due_at=utc(2026, 11, 25, 12, 0),  # already missed
    )
    hand_over(ticket, now=now, old=chicago, new=london)
    assert ticket.first_response_due_at == utc(2026, 11, 26, 13, 30)  # 1.5h Wed + 4.5h Thu
    assert ticket.sla_due_at == utc(2026, 11, 25, 12, 0)  # a missed target stays missed
    paused = Ticket(sla_paused_at=now - timedelta(hours=1), sla_due_at=utc(2026, 11, 25, 22, 0))
    hand_over(paused, now=now, old=chicago, new=london)
    # counted from when the clock stopped (15:00 UTC): seven of Chicago's hours were left
    assert business_time_between(utc(2026, 11, 25, 15, 0), paused.sla_due_at, london) == (
        timedelta(hours=7)
    )
