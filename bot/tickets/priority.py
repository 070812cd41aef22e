"""A ticket's priority: the issue's default, raised by what the message tells about the candidate.

Pure: the signals are passed in. Each signal raises the priority by one or two steps; the result is
capped at urgent. A possible fraud (an unexpected registration) is always at least high.
"""

from collections.abc import Iterable

PRIORITIES = ("low", "normal", "high", "urgent")
ALWAYS_HIGH = frozenset({"unexpected-registration"})
CHASE_STEPS = ((5, 2), (2, 1))  # (at least this many chasers, raise by)
WAITING_STEPS = ((14, 2), (7, 1))  # (at least this many days waited, raise by)


def rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("normal")


def highest(priorities: Iterable[str]) -> str:
    return PRIORITIES[max((rank(p) for p in priorities), default=rank("normal"))]


def _step(value: int | None, steps: tuple[tuple[int, int], ...]) -> int:
    if value is None:
        return 0
    return next((by for at_least, by in steps if value >= at_least), 0)


def priority_for(
    *,
    default: str,
    issue: str | None = None,
    anger: bool = False,
    chase_count: int = 0,
    waiting_days: int | None = None,
) -> str:
    """The priority of a ticket about `issue` given the message's signals."""
    raised = rank(default) + int(anger) + _step(chase_count, CHASE_STEPS)
    raised += _step(waiting_days, WAITING_STEPS)
    if issue in ALWAYS_HIGH:
        raised = max(raised, rank("high"))
    return PRIORITIES[min(raised, len(PRIORITIES) - 1)]
