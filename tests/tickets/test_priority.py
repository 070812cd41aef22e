"""Priority from the issue's default and the message's signals."""

import pytest

from bot.tickets.priority import highest, priority_for


@pytest.mark.parametrize(
    ("default", "issue", "signals", "expected"),
    [
        ("normal", "voucher-missing", {}, "normal"),
        ("low", "voucher-scope", {}, "low"),
        ("normal", "voucher-missing", {"anger": True}, "high"),
        ("normal", "voucher-missing", {"chase_count": 1}, "normal"),
        ("normal", "voucher-missing", {"chase_count": 2}, "high"),
        ("normal", "voucher-missing", {"chase_count": 5}, "urgent"),  # "sent 5 emails"
        ("low", "results-pending", {"waiting_days": 7}, "normal"),
        ("low", "results-pending", {"waiting_days": 14}, "high"),
        ("normal", "voucher-missing", {"waiting_days": 3}, "normal"),
        ("high", "voucher-missing", {"anger": True, "chase_count": 5}, "urgent"),  # capped
        ("low", "unexpected-registration", {}, "high"),  # possible fraud: always high
        ("normal", "unexpected-registration", {"anger": True}, "high"),
        ("high", "unexpected-registration", {"anger": True}, "urgent"),
    ],
)
def test_priority_from_default_and_signals(
    default: str, issue: str, signals: dict, expected: str
) -> None:
    assert priority_for(default=default, issue=issue, **signals) == expected


def test_highest_priority_wins() -> None:
    assert highest(["low", "urgent", "normal"]) == "urgent"
