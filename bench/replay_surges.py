"""Replay days of messages through surge detection and print, per day: how many messages into
the wave the alert fired, the group's precision, and alerts on quiet days (with the load).

    python bench/replay_surges.py [--json] [--set word_tail=1e-6 ...] [--days w1 q1 ...]

Days (`bot.surges.replay.DAYS`): one per wave, and quiet days, each over 240 everyday messages
and 30 decoys, after 14 days of history. Detection was tuned on the days marked tuned; the
others were written and frozen before the last round of tuning, and are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config.app import SurgesConfig  # noqa: E402
from bot.matching.matcher import shipped_model  # noqa: E402
from bot.surges.replay import DAYS, DayResult, load_rows, plan_of, replay_day  # noqa: E402

TARGET_INTO_WAVE, TARGET_PRECISION = 10, 0.9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
        help="a setting of app.yaml's surges: section, as it would be written there",
    )  # fmt: skip
    parser.add_argument("--days", nargs="*", help="only these days (e.g. w1 q1)")
    args = parser.parse_args()
    config = _config(parser, args.set)
    started = time.perf_counter()
    everyday, decoys, waves = load_rows(ROOT / "tests" / "data", ROOT / "knowledge")
    loaded = time.perf_counter() - started
    results = []
    for day in DAYS.values():
        if args.days and day.name not in args.days:
            continue
        t0 = time.perf_counter()
        result = replay_day(
            plan_of(day, waves), everyday=everyday, decoys=decoys, config=config,
            thresholds=shipped_model().thresholds,
        )  # fmt: skip
        results.append((result, time.perf_counter() - t0, os.getloadavg()[0]))
    if args.json:
        print(json.dumps([{**r.__dict__, "tuned": DAYS[r.name].tuned, "seconds": round(s, 1),
                           "load": round(lo, 1)} for r, s, lo in results], indent=2,
                         default=str))  # fmt: skip
        return
    print(f"settings: similarity {config.similarity}, min count {config.min_count}, window "
          f"{config.window}, every {config.every}; rows read in {loaded:.1f} s, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for tuned, title in ((True, "tuned on"), (False, "held out (never tuned on)")):
        chosen = [item for item in results if DAYS[item[0].name].tuned == tuned]
        if chosen:
            _table(title, chosen)


def _config(parser: argparse.ArgumentParser, items: list[str]) -> SurgesConfig:
    """The surges settings with `items` (KEY=VALUE, each value read as YAML reads it in
    app.yaml: `window=30` is 30 minutes there too)."""
    settings: dict[str, object] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not key or not equals:
            parser.error(f"--set wants KEY=VALUE, got {item!r}")
        if key in settings:
            parser.error(f"--set: {key} given twice")
        try:
            settings[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            parser.error(f"--set: {key}: not a YAML value: {value!r}")
    try:
        return SurgesConfig(**settings)
    except ValidationError as error:
        parser.error("--set: " + "; ".join(
            ": ".join(filter(None, (".".join(map(str, e["loc"])), e["msg"])))
            for e in error.errors()
        ))  # fmt: skip


def _table(title: str, results: list[tuple[DayResult, float, float]]) -> None:
    print(f"\n{title}")
    print(
        f"{'day':<4} {'msgs':>4} {'into wave':>9} {'prec@alert':>10} {'prec@end':>8} "
        f"{'wave found':>10} {'alerts':>6} {'false':>5} {'meets':>5} {'s':>5} {'load':>5}"
    )
    for r, seconds, load in results:
        print(
            f"{r.name:<4} {r.messages:>4} {_f(r.into_wave):>9} {_f(r.precision_at_alert):>10} "
            f"{_f(r.precision_final):>8} {_f(r.wave_size_final):>10} {r.alerts:>6} "
            f"{r.false_alerts:>5} {'yes' if meets(r) else 'NO':>5} {seconds:>5.1f} {load:>5.1f}"
        )
        for d in r.details:
            print(f"       {d['at']} {d['kind']:<4} {d['issue']!s:<34} size {d['size']:>3} "
                  f"prec {d['precision']:.2f} → end {d['final_size']:>3} "
                  f"prec {d['final_precision']:.2f} {d['shared']}")  # fmt: skip


def meets(r: DayResult) -> bool:
    """The issue's targets: a wave alerted within its first 10 messages with a group at least
    0.9 precise, and no false alert; a quiet day with no alert."""
    if not r.wave:
        return r.alerts == 0
    return (
        r.into_wave is not None
        and r.into_wave <= TARGET_INTO_WAVE
        and (r.precision_at_alert or 0) >= TARGET_PRECISION
        and r.false_alerts == 0
    )


def _f(value: object) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    main()
