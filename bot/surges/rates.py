"""Known-issue surges: an issue whose count in the window is at least `rate_factor` times its
trailing rate for the same length of time, and unlikely under that rate (a Poisson tail below
`poisson_tail`), with at least the minimum count. Counted per issue, and per issue with one
exam, provider or region, so a wave about one exam stands out from the issue's everyday
traffic; the scope least likely under its own rate wins.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
from scipy.stats import poisson

from bot.surges.readings import PLACES, Reading, voices
from bot.surges.textspace import words_of
from bot.types import NOT_A_REQUEST

DAY = timedelta(days=1)
# A word in more than this share of the history's messages of the same issue ("the", "beta",
# "code") rises with any busy hour, a wave's included: only rarer words can tell a wave.
WORD_MAX_SHARE = 0.1
MIN_WORD_HISTORY = 100  # below, too few messages to tell common words from rare ones
Scope = tuple[str, str | None, str | None]  # (issue, entity kind, value)


@dataclass(frozen=True)
class RateSurge:
    scope: Scope
    members: list[Reading]
    expected: float  # the trailing rate for the window's length (0 with no history)
    tail: float  # P(count >= observed) under that rate
    cut: float  # the tail below which a count is a surge (a word's is smaller)


def surprise(count: int, expected: float, *, rate_factor: float, cut: float) -> float | None:
    """P(a count at least `count` | the `expected` rate) when the count is a surge: at least
    `rate_factor` times the rate and less likely than `cut`; None when it is not."""
    tail = float(poisson.sf(count - 1, expected)) if expected > 0 else 0.0
    return tail if count >= rate_factor * expected and tail < cut else None


@functools.lru_cache(maxsize=50_000)  # the history is counted again every run
def scopes(reading: Reading) -> tuple[Scope, ...]:
    if reading.issue is None or reading.issue == NOT_A_REQUEST:
        return ()
    found: list[Scope] = [(reading.issue, None, None)]
    for kind in PLACES:
        found += [(reading.issue, kind, value) for value in dict.fromkeys(reading.places(kind))]
    # Each message is also counted per word it uses: a wave written in fifty phrasings and many
    # places still repeats a word or two far above their rate ("prerequisite", "name",
    # "partner"), where its messages as a whole read little alike or are read as a known issue.
    found += [(reading.issue, "word", term) for term in words_of(reading)]
    return tuple(found)


class Counts(Protocol):
    """A count per scope, 0 for a scope never seen (a `Counter` is one)."""

    def __getitem__(self, scope: Scope, /) -> int: ...


@dataclass(frozen=True)
class ScopeCounts:
    ids: Mapping[Scope, int]
    totals: np.ndarray

    def __getitem__(self, scope: Scope, /) -> int:
        found = self.ids.get(scope)
        return int(self.totals[found]) if found is not None and found < len(self.totals) else 0


class ScopeCounter:
    """Counts the history's scopes. Each reading's scopes are numbered once, so a count is one
    sum of small integer arrays: a detection run counts the history six times (all day and the
    same hours, for known issues and for each pool), and hashing every scope of fourteen days of
    mail each time was most of a run. Readings are told apart by key: one counter serves readings
    with distinct keys (one run of the worker, one replayed day)."""

    def __init__(self) -> None:
        self._ids: dict[Scope, int] = {}
        self._numbered: dict[tuple[int, str | None], np.ndarray] = {}

    def _of(self, reading: Reading, issue: str | None) -> np.ndarray:
        found = self._numbered.get((reading.key, issue))
        if found is None:
            read = reading if issue is None else replace(reading, issue=issue)
            ids = [self._ids.setdefault(scope, len(self._ids)) for scope in scopes(read)]
            found = self._numbered[(reading.key, issue)] = np.array(ids, dtype=np.int32)
        return found

    def count(self, history: Sequence[Reading], *, as_issue: str | None = None) -> ScopeCounts:
        """The scopes of `history`, each reading counted as `as_issue` when given."""
        arrays = [self._of(reading, as_issue) for reading in history]
        totals = np.bincount(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.intp)
        return ScopeCounts(self._ids, totals)


def same_hours(history: Sequence[Reading], *, now: datetime, window: timedelta) -> list[Reading]:
    """The history's readings that fell in the same hours of an earlier day as the window (mail
    has a daily rhythm: the window's busy hours are compared with the same hours)."""
    found = []
    for reading in history:
        back = (now - reading.at) % DAY  # how long before `now`'s time of day
        if timedelta(0) <= back < window:
            found.append(reading)
    return found


def _expectation(
    history: Counts,
    *,
    history_span: timedelta,
    window_span: timedelta,
    hours: Counts | None,
) -> Callable[[Scope], float]:
    """A scope's expected count in a window: its trailing rate for the window's length, or the
    same hours' mean count when that is higher (mail has a daily rhythm)."""
    share = window_span / history_span if history_span > timedelta(0) else 0.0
    days = history_span // DAY

    def expected(scope: Scope) -> float:
        found = history[scope] * share
        if hours is not None and days >= 1:
            found = max(found, hours[scope] / days)
        return found

    return expected


def lifted_issues(
    window: Sequence[Reading],
    history: Counts,
    *,
    history_span: timedelta,
    window_span: timedelta,
    hours: Counts | None = None,
    rate_factor: float,
) -> set[str]:
    """Issues read at least `rate_factor` times as often as their trailing rate, whatever the
    tail: a wave read as a known issue in part (a portal outage read as a missing certification)
    is grouped with its unsure readings, and the group's own size then decides."""
    if history_span <= timedelta(0):
        return set()
    expected = _expectation(
        history, history_span=history_span, window_span=window_span, hours=hours
    )
    writers: dict[str, list[Reading]] = {}
    for r in window:
        if r.issue and r.issue != NOT_A_REQUEST:
            writers.setdefault(r.issue, []).append(r)
    counts = {issue: voices(found) for issue, found in writers.items()}
    return {
        issue
        for issue, n in counts.items()
        if n >= rate_factor * max(expected((issue, None, None)), 1.0)
    }


def _common(scope: Scope, history: Counts) -> bool:
    messages = history[(scope[0], None, None)]
    return messages >= MIN_WORD_HISTORY and history[scope] > WORD_MAX_SHARE * messages


def _rank(surge: RateSurge) -> tuple[float, int, bool, bool, str]:
    """Least likely first, then most writers, the whole issue before a part of it, a word before
    its stem, and by value (the window's scopes come in no fixed order)."""
    _, kind, value = surge.scope
    stem = kind == "word" and str(value).endswith("*")
    return (surge.tail, -voices(surge.members), kind is not None, stem, str(value))


def rate_surges(
    window: Sequence[Reading],
    history: Counts,
    *,
    history_span: timedelta,
    window_span: timedelta,
    hours: Counts | None = None,
    min_count: int,
    rate_factor: float,
    poisson_tail: float,
    word_tail: float | None = None,
) -> list[RateSurge]:
    """At most one surge per issue: its most surprising scope that passes. `history_span` is
    how long `history` covers (zero: a desk with no history, where the minimum count decides);
    `hours` counts the same hours of its days, and the higher of the two rates is expected."""
    members: dict[Scope, list[Reading]] = {}
    for reading in window:
        for scope in scopes(reading):
            members.setdefault(scope, []).append(reading)
    best: dict[str, RateSurge] = {}
    expectation = _expectation(
        history, history_span=history_span, window_span=window_span, hours=hours
    )
    for scope, found in members.items():
        count = voices(found)  # writers, not tickets: one writer's many tickets are one voice
        if count < min_count or (scope[1] == "word" and _common(scope, history)):
            continue
        expected = expectation(scope)
        cut = poisson_tail if scope[1] != "word" or word_tail is None else word_tail
        tail = surprise(count, expected, rate_factor=rate_factor, cut=cut)
        if tail is None:
            continue
        surge = RateSurge(scope, found, expected, tail, cut)
        current = best.get(scope[0])
        if current is None or _rank(surge) < _rank(current):
            best[scope[0]] = surge
    return [best[issue] for issue in sorted(best)]
