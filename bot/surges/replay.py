"""Replaying days of messages through surge detection, to measure it (`bench/replay_surges.py`,
`tests/surges/test_replay.py`).

A day is everyday traffic (labelled messages never used to tune detection, each read by a
matcher that never saw it: out-of-fold for the training corpora) at seeded times, a set of 30
everyday decoys (with their small clusters), and, on a wave day, one wave of 40 messages
starting at some hour (`DAYS`). Fourteen earlier days of the same kind of traffic are the
history. Detection looks every `surges.every` when a message came since its last look, as the
worker does, and surges continue by shared messages, as in the database. Measured: how many
wave messages had arrived when the first surge made mostly of the wave was alerted, that
surge's precision (share of its messages that belong to the wave) when alerted and at the end
of the day, and any other surge (a false alert).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config.app import SurgesConfig
from bot.matching.model import Thresholds
from bot.surges.detect import Group, Window, alike_by, detect, match, news_since
from bot.surges.rates import ScopeCounter
from bot.surges.readings import Reading
from bot.surges.textspace import TextSpace

DAY = timedelta(days=1)
START = datetime(2026, 3, 2, tzinfo=UTC)  # the first replayed day; history before it
BUSY = (8, 18)  # most everyday mail arrives in these hours (UTC)


@dataclass(frozen=True)
class Row:
    """A message ready to replay: its text and how the matcher read it."""

    text: str
    issue: str | None
    confidence: float
    entities: dict[str, list[str]]
    minute: int = 0  # waves and decoys: minutes since their start
    wave: bool = False
    codes: tuple[str, ...] = ()  # as the parser found them (the text has them masked)


@dataclass(frozen=True)
class DayPlan:
    name: str
    seed: int
    wave: Sequence[Row] = ()
    wave_start: timedelta = timedelta(hours=10)
    decoys: str = "decoy"  # which set of everyday decoys the day carries


@dataclass(frozen=True)
class Day:
    """A replayed day as the benchmark and the tests know it."""

    name: str
    seed: int
    start: float | None = None  # the wave's first message (hours); None: a quiet day
    decoys: str = "decoy"
    tuned: bool = False  # detection was tuned on this day: its figures are in-sample


# Detection was tuned in eight rounds, each on the days held out in the round before:
# w1-w5 and q1-q3 (surge-waves.jsonl) first; then w6-w9 and q4-q7 (surge-waves-blind.jsonl);
# then w10-w13 and q8-q11 (surge-waves-blind-2.jsonl); then w14-w17 and q12-q15
# (surge-waves-blind-3.jsonl); then w18-w21 and q16-q19 (surge-waves-blind-4.jsonl); then
# w22-w25 and q20-q23 (surge-waves-blind-5.jsonl); then w26-w29 and q24-q27
# (surge-waves-blind-6.jsonl); then w30-w33 and q28-q31 (surge-waves-blind-7.jsonl).
# w34-w37 and q32-q35 (surge-waves-blind-8.jsonl) were frozen before they were ever replayed
# and never tuned on: they say how detection does on waves nobody tuned it for.
DAYS = {
    day.name: day
    for day in (
        Day("w1", 10, 9.0, tuned=True),
        Day("w2", 11, 10.5, tuned=True),
        Day("w3", 12, 13.0, tuned=True),
        Day("w4", 13, 11.0, tuned=True),
        Day("w5", 14, 14.5, tuned=True),
        Day("q1", 101, tuned=True),
        Day("q2", 102, tuned=True),
        Day("q3", 103, tuned=True),
        Day("w6", 15, 10.0, "decoy-a", tuned=True),
        Day("w7", 16, 12.0, "decoy-a", tuned=True),
        Day("w8", 17, 9.5, "decoy-b", tuned=True),
        Day("w9", 18, 13.5, "decoy-b", tuned=True),
        Day("q4", 104, decoys="decoy-a", tuned=True),
        Day("q5", 105, decoys="decoy-a", tuned=True),
        Day("q6", 106, decoys="decoy-b", tuned=True),
        Day("q7", 107, decoys="decoy-b", tuned=True),
        Day("w10", 19, 9.0, "decoy-c", tuned=True),
        Day("w11", 20, 11.5, "decoy-c", tuned=True),
        Day("w12", 21, 10.0, "decoy-d", tuned=True),
        Day("w13", 22, 14.0, "decoy-d", tuned=True),
        Day("q8", 108, decoys="decoy-c", tuned=True),
        Day("q9", 109, decoys="decoy-c", tuned=True),
        Day("q10", 110, decoys="decoy-d", tuned=True),
        Day("q11", 111, decoys="decoy-d", tuned=True),
        Day("w14", 23, 10.5, "decoy-e", tuned=True),
        Day("w15", 24, 12.5, "decoy-e", tuned=True),
        Day("w16", 25, 9.0, "decoy-f", tuned=True),
        Day("w17", 26, 13.0, "decoy-f", tuned=True),
        Day("q12", 112, decoys="decoy-e", tuned=True),
        Day("q13", 113, decoys="decoy-e", tuned=True),
        Day("q14", 114, decoys="decoy-f", tuned=True),
        Day("q15", 115, decoys="decoy-f", tuned=True),
        Day("w18", 27, 10.0, "decoy-g", tuned=True),
        Day("w19", 28, 13.5, "decoy-g", tuned=True),
        Day("w20", 29, 9.5, "decoy-h", tuned=True),
        Day("w21", 30, 12.0, "decoy-h", tuned=True),
        Day("q16", 116, decoys="decoy-g", tuned=True),
        Day("q17", 117, decoys="decoy-g", tuned=True),
        Day("q18", 118, decoys="decoy-h", tuned=True),
        Day("q19", 119, decoys="decoy-h", tuned=True),
        Day("w22", 31, 10.5, "decoy-i", tuned=True),
        Day("w23", 32, 12.5, "decoy-i", tuned=True),
        Day("w24", 33, 9.0, "decoy-j", tuned=True),
        Day("w25", 34, 13.0, "decoy-j", tuned=True),
        Day("q20", 120, decoys="decoy-i", tuned=True),
        Day("q21", 121, decoys="decoy-i", tuned=True),
        Day("q22", 122, decoys="decoy-j", tuned=True),
        Day("q23", 123, decoys="decoy-j", tuned=True),
        Day("w26", 35, 11.0, "decoy-k", tuned=True),
        Day("w27", 36, 9.5, "decoy-k", tuned=True),
        Day("w28", 37, 13.5, "decoy-l", tuned=True),
        Day("w29", 38, 10.0, "decoy-l", tuned=True),
        Day("q24", 124, decoys="decoy-k", tuned=True),
        Day("q25", 125, decoys="decoy-k", tuned=True),
        Day("q26", 126, decoys="decoy-l", tuned=True),
        Day("q27", 127, decoys="decoy-l", tuned=True),
        Day("w30", 39, 10.0, "decoy-m", tuned=True),
        Day("w31", 40, 12.0, "decoy-m", tuned=True),
        Day("w32", 41, 9.5, "decoy-n", tuned=True),
        Day("w33", 42, 13.0, "decoy-n", tuned=True),
        Day("q28", 128, decoys="decoy-m", tuned=True),
        Day("q29", 129, decoys="decoy-m", tuned=True),
        Day("q30", 130, decoys="decoy-n", tuned=True),
        Day("q31", 131, decoys="decoy-n", tuned=True),
        Day("w34", 43, 10.5, "decoy-o"),
        Day("w35", 44, 12.0, "decoy-o"),
        Day("w36", 45, 9.0, "decoy-p"),
        Day("w37", 46, 13.5, "decoy-p"),
        Day("q32", 132, decoys="decoy-o"),
        Day("q33", 133, decoys="decoy-o"),
        Day("q34", 134, decoys="decoy-p"),
        Day("q35", 135, decoys="decoy-p"),
    )
}
WAVE_FILES = (
    "surge-waves.jsonl",
    "surge-waves-blind.jsonl",
    "surge-waves-blind-2.jsonl",
    "surge-waves-blind-3.jsonl",
    "surge-waves-blind-4.jsonl",
    "surge-waves-blind-5.jsonl",
    "surge-waves-blind-6.jsonl",
    "surge-waves-blind-7.jsonl",
    "surge-waves-blind-8.jsonl",
)


def plan_of(day: Day, waves: Mapping[str, Sequence[Row]]) -> DayPlan:
    if day.start is None:
        return DayPlan(name=day.name, seed=day.seed, decoys=day.decoys)
    return DayPlan(
        name=day.name, seed=day.seed, wave=waves[day.name],
        wave_start=timedelta(hours=day.start), decoys=day.decoys,
    )  # fmt: skip


@dataclass
class DayResult:
    name: str
    wave: bool
    messages: int
    alerts: int  # surges alerted this day
    false_alerts: int  # surges alerted that are mostly not the wave
    into_wave: int | None = None  # wave messages arrived when the wave's surge was alerted
    precision_at_alert: float | None = None
    precision_final: float | None = None
    wave_size_final: int | None = None
    details: list[dict[str, object]] = field(default_factory=list)


def _times(rng: random.Random, count: int, day: datetime) -> list[datetime]:
    times = []
    for _ in range(count):
        if rng.random() < 0.7:
            seconds = rng.uniform(BUSY[0] * 3600, BUSY[1] * 3600)
        else:
            seconds = rng.uniform(0, 86400)
        times.append(day + timedelta(seconds=seconds))
    return times


def build_day(
    day: datetime,
    *,
    seed: int,
    everyday: Sequence[Row],
    decoys: Sequence[Row],
    per_day: int,
    wave: Sequence[Row] = (),
    wave_start: timedelta = timedelta(hours=10),
    first_key: int = 0,
) -> list[tuple[Reading, bool]]:
    """One day's readings in time order, each with whether it belongs to the wave."""
    rng = random.Random(seed)
    chosen = rng.sample(list(everyday), min(per_day, len(everyday)))
    timed = list(zip(_times(rng, len(chosen), day), chosen, strict=True))
    timed += [(day + timedelta(minutes=row.minute), row) for row in decoys]
    timed += [(day + wave_start + timedelta(minutes=row.minute), row) for row in wave]
    timed.sort(key=lambda pair: pair[0])
    return [
        (
            Reading.of(
                first_key + n,
                at,
                row.text,
                row.issue,
                row.confidence,
                row.entities,
                codes=row.codes,
            ),
            row.wave,
        )
        for n, (at, row) in enumerate(timed)
    ]


def replay_day(
    plan: DayPlan,
    *,
    everyday: Sequence[Row],
    decoys: Mapping[str, Sequence[Row]],
    config: SurgesConfig,
    thresholds: Thresholds,
    per_day: int = 240,
    history_days: int = 14,
) -> DayResult:
    """Replay one day after `history_days` of everyday traffic; see the module's docstring."""
    day_decoys = decoys[plan.decoys]
    history: list[Reading] = []
    key = 0
    for back in range(history_days, 0, -1):
        earlier = build_day(
            START - back * DAY, seed=plan.seed * 1000 + back, everyday=everyday, decoys=day_decoys,
            per_day=per_day, first_key=key,
        )  # fmt: skip
        history += [reading for reading, _ in earlier]
        key += len(earlier)
    today = build_day(
        START, seed=plan.seed * 1000, everyday=everyday, decoys=day_decoys, per_day=per_day,
        wave=plan.wave, wave_start=plan.wave_start, first_key=key,
    )  # fmt: skip
    in_wave = {reading.key for reading, belongs in today if belongs}
    space, counter = TextSpace(history), ScopeCounter()
    surges: list[tuple[int, set[int]]] = []
    alerted: list[dict[str, object]] = []
    readings = history + [reading for reading, _ in today]
    by_key = {r.key: r for r in readings}
    result = DayResult(name=plan.name, wave=bool(plan.wave), messages=len(today), alerts=0,
                       false_alerts=0)  # fmt: skip
    times = [r.at for r in readings]
    moment, last_look = START + config.every, None
    while moment <= START + DAY:
        since = news_since(last_look)
        if since is not None and bisect.bisect_right(times, since) == bisect.bisect_right(
            times, moment
        ):
            moment += config.every  # nothing new: the worker's look does nothing
            continue
        last_look = moment
        window_start = moment - config.window
        window = [r for r in readings if window_start < r.at <= moment]
        earlier = [r for r in readings if moment - config.history <= r.at <= window_start]
        span = window_start - max(readings[0].at, moment - config.history)
        groups = detect(
            Window(now=moment, readings=window, history=earlier, history_span=span),
            config, thresholds, space=space, counter=counter,
        )  # fmt: skip
        alike = alike_by(space, by_key, config.similarity)
        for group, surge_id in match(groups, surges, alike=alike):
            if surge_id is None:
                surges.append((len(surges), set(group.keys)))
                alerted.append(_alert(group, in_wave, moment, today))
            else:
                surges[surge_id][1].update(group.keys)
        moment += config.every
    text_of = {r.key: r for r, _ in today}
    for record, (_, keys) in zip(alerted, surges, strict=True):
        strays = sorted(keys - in_wave)
        record["strays"] = [
            f"{text_of[k].issue} {text_of[k].confidence}: {text_of[k].text[:70]!r}"
            for k in strays
            if k in text_of
        ]
        record["final_size"] = len(keys)
        record["final_precision"] = round(len(keys & in_wave) / len(keys), 3)
    result.alerts = len(alerted)
    result.details = alerted
    wave_alerts = [a for a in alerted if a["mostly_wave"]]
    result.false_alerts = len(alerted) - len(wave_alerts)
    if wave_alerts:
        first = wave_alerts[0]
        result.into_wave = int(first["into_wave"])  # type: ignore[call-overload]
        result.precision_at_alert = float(first["precision"])  # type: ignore[arg-type]
        wave_keys = set().union(*(keys for (i, keys) in surges if alerted[i]["mostly_wave"]))
        result.precision_final = round(len(wave_keys & in_wave) / len(wave_keys), 3)
        result.wave_size_final = len(wave_keys & in_wave)
    return result


def _alert(
    group: Group, in_wave: set[int], moment: datetime, today: list[tuple[Reading, bool]]
) -> dict[str, object]:
    keys = group.keys
    belong = len(keys & in_wave)
    return {
        "at": moment.strftime("%H:%M"),
        "kind": group.kind,
        "issue": group.issue or group.suggested,
        "size": len(keys),
        "expected": None if group.expected is None else round(group.expected, 2),
        "scope": group.shared.get("scope"),
        "precision": round(belong / len(keys), 3),
        "mostly_wave": belong * 2 > len(keys),
        "into_wave": sum(1 for r, belongs in today if belongs and r.at <= moment),
        "shared": {k: v for k, v in group.shared.items() if k in ("exams", "providers", "errors")},
    }


def _row(text: str, reading: tuple[str | None, float], **extra: object) -> Row:
    from bot.text.parse import parse_message

    parsed = parse_message(text)
    issue, confidence = reading
    return Row(
        text=parsed.new_text, issue=issue, confidence=round(confidence, 3),
        entities=parsed.entities.model_dump(), codes=tuple(parsed.secret_codes),
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def load_rows(
    data_dir: Path, knowledge_dir: Path
) -> tuple[list[Row], dict[str, list[Row]], dict[str, list[Row]]]:
    """(everyday, decoys by set, waves by name). Everyday messages are the training corpora, each
    read out of fold (by a model trained without it: a reading as unsure as a new message gets);
    decoys and waves, which no model was trained on, are read by the shipped model."""
    import json

    from threadpoolctl import threadpool_limits

    from bot.matching import training
    from bot.matching.knowledge import load_knowledge
    from bot.matching.matcher import Matcher, read_logits, shipped_model

    kb = load_knowledge(knowledge_dir)
    model = shipped_model()
    rows = training.training_rows(kb, data_dir)
    classes = [*sorted(kb.issues), training.UNKNOWN]
    with threadpool_limits(limits=1):
        prepared = [training._Prepared(r) for r in rows]
        oof = training.out_of_fold(rows, prepared, classes)
    everyday = []
    for row, logits in zip(rows, oof, strict=True):
        if logits is None:  # a knowledge example: not a message anyone wrote
            continue
        issue, confidence, _ = read_logits(
            classes, logits, model.thresholds, model.calibration, model.secondary,
            model.sentence_weight,
        )  # fmt: skip
        everyday.append(_row(row.text, (issue, confidence)))
    matcher = Matcher(kb, model)
    decoys: dict[str, list[Row]] = {}
    waves: dict[str, list[Row]] = {}
    lines = [
        line
        for name in WAVE_FILES
        for line in (data_dir / name).read_text(encoding="utf-8").splitlines()
    ]
    for line in lines:
        item = json.loads(line)
        read = matcher.classify(item["text"])
        row = _row(
            item["text"], (read.issue, read.confidence), minute=int(item["minute"]),
            wave=bool(item["in_wave"]),
        )  # fmt: skip
        if item["wave"].startswith("decoy"):
            decoys.setdefault(item["wave"], []).append(row)
        else:
            waves.setdefault(item["wave"], []).append(row)
    return everyday, decoys, waves
