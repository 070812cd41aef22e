"""Surge detection over one window, pure: the window's readings, the trailing history's, the
matcher's thresholds and the settings in; groups out, each with what its members share.

Two kinds: `new` (unsure readings that read alike: `grouping`) and `rate` (a known issue far
above its trailing rate: `rates`). `match` then says which groups continue a surge already
known (they share tickets), so a surge that grows is one surge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from bot.config.app import SurgesConfig
from bot.matching.corrections import scrub
from bot.matching.model import Thresholds
from bot.privacy.masking import mask_all
from bot.surges import grouping
from bot.surges.rates import (
    Counts,
    RateSurge,
    Scope,
    ScopeCounter,
    lifted_issues,
    rate_surges,
    same_hours,
    surprise,
)
from bot.surges.readings import ANY_MAIL, PLACES, UNSURE, Reading, unsure, voices
from bot.surges.textspace import TextSpace
from bot.types import NOT_A_REQUEST

PHRASINGS = 3
PHRASING_CHARS = 240
SHARED_SHARE = 0.5  # a value is shared when at least half the members name it
# A ticket committed this long after the time it was opened at still counts as new to the next
# look (an intake transaction in flight when the last look read the tickets).
LATE = timedelta(seconds=30)
# A group continues a surge whose tickets it reads like at this share of the grouping threshold:
# average linkage may cut one wave in two, and the lead should get one growing alert.
CONTINUES = 0.25


@dataclass
class Group:
    kind: str  # new | rate
    members: list[Reading]
    issue: str | None = None  # rate: the issue
    suggested: str | None = None  # new: the issue its readings leaned to most
    shared: dict[str, object] = field(default_factory=dict)
    expected: float | None = None
    tail: float | None = None

    @property
    def keys(self) -> set[int]:
        return {r.key for r in self.members}


@dataclass(frozen=True)
class Window:
    """What one detection run reads."""

    now: datetime
    readings: Sequence[Reading]  # the window's
    history: Sequence[Reading]  # before the window, within `history`
    history_span: timedelta  # how long the history covers (zero: no history yet)
    excluded: frozenset[int] = frozenset()  # tickets a decided surge already took


def news_since(last_look: datetime | None) -> datetime | None:
    """Tickets opened after this make a look worth it (None: look). Without a new ticket a look
    finds nothing a look before did not: readings only leave the window."""
    return None if last_look is None else last_look - LATE


def detect(
    window: Window,
    config: SurgesConfig,
    thresholds: Thresholds,
    *,
    space: TextSpace | None = None,
    counter: ScopeCounter | None = None,
) -> list[Group]:
    """Every group the window holds, new-issue groups first, largest first. `space` and
    `counter` may be kept from run to run over the same readings (a replayed day)."""
    space = space or TextSpace(window.history)
    counter = counter or ScopeCounter()
    readings = [r for r in window.readings if r.key not in window.excluded]
    groups = []
    # The history in the same hours of its days as the window: found once, counted per pool.
    same = same_hours(window.history, now=window.now, window=config.window)
    history, hours = counted = _counts(counter, window.history, same)
    lifted = lifted_issues(
        readings, history, history_span=window.history_span, window_span=config.window,
        hours=hours, rate_factor=config.pool_factor,
    )  # fmt: skip
    pool = [r for r in readings if unsure(r, thresholds) or r.issue in lifted]
    for members, sims in grouping.clusters(
        pool, space, similarity=config.similarity, min_count=config.min_count
    ):
        groups.append(_new_group(members, sims))
    # Unsure readings naming one exam, provider or region far above their rate: a wave written
    # in many languages and words (a test centre's software failing for every beta) reads too
    # little alike to cluster, but names one place (all unsure mail at once says nothing).
    groups += _pooled_rates(
        window, readings, same, config, space, counter, pool=UNSURE,
        belongs=lambda r: unsure(r, thresholds), kinds=(*PLACES, "word"),
    )  # fmt: skip
    # A word far above its rate in the pool, however each message was read: a wave the matcher
    # spreads over several known issues (a scam mail read as a missing voucher, a question
    # about vouchers, a rejected code) still repeats its rare words ("on hold", "phishing").
    # A confident reading of an issue at its usual rate is that issue's everyday mail.
    groups += _pooled_rates(
        window, readings, same, config, space, counter, pool=ANY_MAIL,
        belongs=lambda r: unsure(r, thresholds) or r.issue in lifted, kinds=("word",),
        word_bar=config.rate_similarity,
    )  # fmt: skip
    found_rates = _rates(
        readings, counted, window, config, space, config.rate_similarity, excess=True
    )
    for found, members, sims in found_rates:
        # Only the members that read somewhat alike are the wave, not the scope's everyday
        # traffic: another problem at VUE, or the exam's usual code mix-up at the hour the wave
        # began. The rate itself is the evidence, so the bar is lower than for grouping.
        group = Group(
            kind="rate", members=members, issue=found.scope[0], expected=found.expected,
            tail=found.tail,
        )  # fmt: skip
        group.shared = describe(members, sims, scope=found.scope)
        groups.append(group)
    return _distinct(groups)


def _rates(
    readings: Sequence[Reading],
    counted: tuple[Counts, Counts],
    window: Window,
    config: SurgesConfig,
    space: TextSpace,
    similarity: float,
    originals: Mapping[int, Reading] | None = None,
    kinds: Collection[str | None] | None = None,
    word_bar: float | None = None,
    excess: bool = False,
) -> Iterator[tuple[RateSurge, list[Reading], np.ndarray]]:
    """Each scope of `readings` far above its rate (`counted`: the history's counts, all day and
    in the same hours), with the members that read at least `similarity` like the rest (and
    their similarities), when they are at least `min_count` writers. `originals`: the readings
    that `readings` were copied from, by key, which the members are given as (the text space
    keeps their vectors). `kinds`: the kinds of scope that may surge (None: a whole issue, or
    "exams", "providers", "regions", "word"), every kind when not given. `excess`: the members
    that read alike must themselves be a surge over the scope's rate (where the scope's
    everyday mail is among the readings: a known issue's confident readings)."""
    history, hours = counted
    for found in rate_surges(
        readings,
        history,
        history_span=window.history_span,
        window_span=config.window,
        hours=hours,
        min_count=config.min_count,
        rate_factor=config.rate_factor,
        poisson_tail=config.poisson_tail,
        word_tail=config.word_tail,
    ):
        if kinds is not None and found.scope[1] not in kinds:
            continue
        found_members = (
            found.members if originals is None else [originals[m.key] for m in found.members]
        )
        sims = space.similarities(found_members)
        # Members sharing a word far above its rate need only the looser bar of members sharing
        # a place: the word is itself the evidence (its tail is far smaller), and a wave's
        # messages in other languages share its stem more than the rest of their words.
        bar = similarity
        if found.scope[1] == "word":
            bar = word_bar if word_bar is not None else min(similarity, config.scope_similarity)
        kept = grouping.core(sims, bar)
        kept = kept[grouping.agree([found_members[i] for i in kept])]
        members = [found_members[i] for i in kept]
        count = voices(members)
        if count < config.min_count:
            continue
        if excess:
            # A wave read partly as a known issue lifts the issue's count; when only the issue's
            # everyday mail reads alike (five questions about a voucher's scope in two hours,
            # where two are usual), that is not the wave.
            tail = surprise(count, found.expected, rate_factor=config.rate_factor, cut=found.cut)
            if tail is None:
                continue
        yield found, members, sims[np.ix_(kept, kept)]


def _counts(
    counter: ScopeCounter,
    history: Sequence[Reading],
    same: Sequence[Reading],
    as_issue: str | None = None,
) -> tuple[Counts, Counts]:
    """The history's counts per scope: all of it, and the part in the same hours as the
    window (`same`)."""
    return counter.count(history, as_issue=as_issue), counter.count(same, as_issue=as_issue)


def _pooled_rates(
    window: Window,
    readings: Sequence[Reading],
    same: Sequence[Reading],
    config: SurgesConfig,
    space: TextSpace,
    counter: ScopeCounter,
    *,
    pool: str,
    belongs: Callable[[Reading], bool],
    kinds: Collection[str | None],
    word_bar: float | None = None,
) -> list[Group]:
    """The readings that `belongs` picks, counted as one pseudo-issue `pool` against their own
    trailing rate, per scope of `kinds`: each scope far above it is a new group of the members
    that read at least a little alike (`scope_similarity`, or `word_bar` for a word), which
    leaves out the scope's everyday mail, which reads like nothing in the wave. `same`: the
    history in the window's hours of its days."""
    counted = _counts(
        counter, [r for r in window.history if belongs(r)], [r for r in same if belongs(r)],
        as_issue=pool,
    )  # fmt: skip
    found_rates = _rates(
        [replace(r, issue=pool) for r in readings if belongs(r)], counted, window, config, space,
        config.scope_similarity, originals={r.key: r for r in readings}, kinds=kinds,
        word_bar=word_bar,
    )  # fmt: skip
    groups = []
    for found, members, sims in found_rates:
        group = _new_group(members, sims)
        group.expected, group.tail = found.expected, found.tail
        groups.append(group)
    return groups


def _distinct(groups: list[Group]) -> list[Group]:
    """One group per wave: a group made mostly of another's tickets (a rate surge whose
    members were also grouped by text) is left out."""
    kept: list[Group] = []
    for group in groups:
        keys = group.keys
        if all(len(keys & other.keys) * 2 <= len(keys) for other in kept):
            kept.append(group)
    return kept


def _new_group(members: list[Reading], sims: np.ndarray) -> Group:
    leaned = Counter(r.issue for r in members if r.issue and r.issue != NOT_A_REQUEST)
    suggested = min(leaned, key=lambda i: (-leaned[i], i)) if leaned else None
    return Group(kind="new", members=members, suggested=suggested, shared=describe(members, sims))


def describe(
    members: Sequence[Reading], sims: np.ndarray, *, scope: Scope | None = None
) -> dict[str, object]:
    """What the members share: each exam, provider or region at least half of them name (and
    the rate scope's), the quoted error texts, the most typical phrasings (scrubbed of personal
    data, codes masked), and the similarity inside the group."""
    shared: dict[str, object] = {}
    for kind in PLACES:
        counts = Counter(v for r in members for v in dict.fromkeys(r.places(kind)))
        common = [v for v, n in counts.most_common() if n >= SHARED_SHARE * len(members)]
        if scope is not None and scope[1] == kind and scope[2] not in common:
            common.insert(0, str(scope[2]))
        shared[kind] = common
    codes = [c for r in members for c in r.codes]
    names = [n for r in members for n in r.names]
    errors = Counter(" ".join(e.split()) for r in members for e in dict.fromkeys(r.errors))
    # A quoted error may echo who asked (a provider's page naming the MCP ID, address, name):
    # scrubbed like the phrasings, as it goes to the alert, the CLI and the draft's title.
    shared["errors"] = [
        mask_all(scrub(e, names=names), codes)[:200]
        for e, n in errors.most_common(3)
        if n >= 2 or len(errors) == 1
    ]
    shared["phrasings"] = [phrasing(r, members) for r in grouping.typical(members, sims, PHRASINGS)]
    if scope is not None:
        value = scope[2]
        # A word is counted as written, codes too (`textspace`): five candidates pasting one
        # campaign's code make its parts a word far above its rate, and codes are never kept.
        if scope[1] == "word" and any(str(value).rstrip("*") in c.casefold() for c in codes):
            value = "****"
        shared["scope"] = {"issue": scope[0], "kind": scope[1], "value": value}
    n = len(members)
    inside = (float(sims.sum()) - n) / (n * (n - 1)) if n > 1 else 1.0
    shared["cohesion"] = round(inside, 3)
    return shared


def phrasing(reading: Reading, group: Sequence[Reading] = ()) -> str:
    """A member's words as the lead may see them: personal data scrubbed, codes masked, short.
    Whatever the parser took for a code in any message of the `group`, and every member's name
    on record, is masked in every one (a wave of profiles linked to the wrong candidate: her
    message names another member)."""
    codes = {*reading.codes, *(c for r in group for c in r.codes)}
    names = {*reading.names, *(n for r in group for n in r.names)}
    text = mask_all(scrub(reading.text, names=sorted(names)), sorted(codes))
    text = " ".join(text.split())
    return text if len(text) <= PHRASING_CHARS else text[: PHRASING_CHARS - 1] + "…"


def match(
    groups: Iterable[Group],
    surges: Sequence[tuple[int, set[int]]],
    *,
    alike: Callable[[Group, set[int]], bool] | None = None,
) -> list[tuple[Group, int | None]]:
    """Each group with the surge it continues, or None for a new surge: the surge sharing most
    of its tickets, else (with `alike`) the first whose messages read like the group's."""
    found = []
    for group in groups:
        keys = group.keys
        best, overlap = None, 0
        for surge_id, members in surges:
            shared = len(keys & members)
            if shared > overlap:
                best, overlap = surge_id, shared
        if best is None and alike is not None:
            best = next((surge_id for surge_id, members in surges if alike(group, members)), None)
        found.append((group, best))
    return found


def alike_by(
    space: TextSpace, readings: Mapping[int, Reading], similarity: float
) -> Callable[[Group, set[int]], bool]:
    """Does a group read like a surge's tickets (mean cross similarity at least `similarity`
    times CONTINUES)?"""

    def alike(group: Group, members: set[int]) -> bool:
        theirs = [readings[k] for k in sorted(members) if k in readings]
        if not theirs:
            return False
        a, b = space.vectors(group.members), space.vectors(theirs)
        return float((a @ b.T).mean()) >= similarity * CONTINUES

    return alike
