"""Replay days of messages through surge detection and print, per day: how many messages into
the wave the alert fired, the group's precision, and alerts on quiet days (with the load).

    python bench/replay_surges.py [--json] [--similarity S] [--min-count N]

Days (`bot.surges.replay`): one per wave w1-w5 of `tests/data/surge-waves.jsonl`, and three
quiet days, each over 240 everyday messages and the 30 decoys, after 14 days of history. The
detection settings were tuned on w1 and q1 only; the other days are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config.app import SurgesConfig  # noqa: E402
from bot.matching.matcher import shipped_model  # noqa: E402
from bot.surges.replay import DayPlan, load_rows, replay_day  # noqa: E402

TUNED_ON = ("w1", "q1")
STARTS = {"w1": 9.0, "w2": 10.5, "w3": 13.0, "w4": 11.0, "w5": 14.5}


def plans(waves: dict[str, list]) -> list[DayPlan]:
    days = [
        DayPlan(name=name, seed=10 + i, wave=waves[name], wave_start=timedelta(hours=STARTS[name]))
        for i, name in enumerate(sorted(waves))
    ]
    days += [DayPlan(name=f"q{i}", seed=100 + i) for i in (1, 2, 3)]
    return days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--similarity", type=float)
    parser.add_argument("--min-count", type=int)
    parser.add_argument("--days", nargs="*", help="only these days (e.g. w1 q1)")
    args = parser.parse_args()
    overrides = {
        k: v for k, v in (("similarity", args.similarity), ("min_count", args.min_count)) if v
    }
    config = SurgesConfig(**overrides)
    started = time.perf_counter()
    everyday, decoys, waves = load_rows(ROOT / "tests" / "data", ROOT / "knowledge")
    loaded = time.perf_counter() - started
    results = []
    for plan in plans(waves):
        if args.days and plan.name not in args.days:
            continue
        t0 = time.perf_counter()
        result = replay_day(
            plan, everyday=everyday, decoys=decoys, config=config,
            thresholds=shipped_model().thresholds,
        )  # fmt: skip
        results.append((result, time.perf_counter() - t0, os.getloadavg()[0]))
    if args.json:
        print(json.dumps([{**r.__dict__, "seconds": round(s, 1), "load": round(lo, 1)}
                          for r, s, lo in results], indent=2, default=str))  # fmt: skip
        return
    print(f"settings: similarity {config.similarity}, min count {config.min_count}, window "
          f"{config.window}, every {config.every}; rows read in {loaded:.1f} s, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        f"{'day':<4} {'tuned':<5} {'msgs':>4} {'into wave':>9} {'prec@alert':>10} "
        f"{'prec@end':>8} {'wave found':>10} {'alerts':>6} {'false':>5} {'s':>5} {'load':>5}"
    )
    for r, seconds, load in results:
        tuned = "yes" if r.name in TUNED_ON else ""
        print(
            f"{r.name:<4} {tuned:<5} {r.messages:>4} {_f(r.into_wave):>9} "
            f"{_f(r.precision_at_alert):>10} {_f(r.precision_final):>8} "
            f"{_f(r.wave_size_final):>10} {r.alerts:>6} {r.false_alerts:>5} {seconds:>5.1f} "
            f"{load:>5.1f}"
        )
        for d in r.details:
            print(f"       {d['at']} {d['kind']:<4} {d['issue']!s:<34} size {d['size']:>3} "
                  f"prec {d['precision']:.2f} → end {d['final_size']:>3} "
                  f"prec {d['final_precision']:.2f} {d['shared']}")  # fmt: skip


def _f(value: object) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    main()
