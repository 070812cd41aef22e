"""Classify throughput and latency: one process, warm, over the corpus repeated to N messages.

Run: `python bench/bench_classify.py [--messages 100000] [--write bench/RESULTS-classify.md]`.
It is a benchmark, not a test: it prints figures and never fails on them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--knowledge", type=Path, default=ROOT / "knowledge")
    parser.add_argument("--corpus", type=Path, nargs="*", default=None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--write", type=Path, default=None, help="also write a Markdown report")
    args = parser.parse_args()

    from bot.matching.knowledge import load_knowledge
    from bot.matching.matcher import Matcher

    corpus = args.corpus or sorted((ROOT / "tests" / "data").glob("*.jsonl"))
    texts = [json.loads(line)["text"] for p in corpus for line in p.open() if line.strip()]
    messages = [texts[i % len(texts)] for i in range(args.messages)]

    load_at_start = os.getloadavg()[:2]
    tracemalloc.start()
    started = time.perf_counter()
    matcher = Matcher(load_knowledge(args.knowledge))
    build_ms = (time.perf_counter() - started) * 1000
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # Cold pass: every distinct text once.
    started = time.perf_counter()
    for text in texts:
        matcher.classify(text)
    cold_rate = len(texts) / (time.perf_counter() - started)

    # The measured run is split into rounds; the fastest round gives the throughput, because
    # on a shared machine other processes only ever slow a round down. Latency percentiles
    # come from every message of every round.
    latencies: list[float] = []
    round_rates: list[float] = []
    round_loads: list[float] = []  # the 1-minute load after each round: the figures' context
    clock = time.perf_counter
    per_round = max(1, len(messages) // args.rounds)
    elapsed = 0.0
    cpu_started = time.process_time()
    for start in range(0, len(messages), per_round):
        chunk = messages[start : start + per_round]
        round_started = clock()
        for text in chunk:
            t0 = clock()
            matcher.classify(text)
            latencies.append(clock() - t0)
        took = clock() - round_started
        elapsed += took
        round_rates.append(len(chunk) / took)
        round_loads.append(os.getloadavg()[0])
    cpu_elapsed = time.process_time() - cpu_started
    latencies.sort()

    tracemalloc.start()
    for text in texts:
        matcher.classify(text)
    _, classify_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    figures = {
        "messages": len(messages),
        "distinct texts": len(texts),
        "throughput (msg/s, warm, best round)": f"{max(round_rates):,.0f}",
        "throughput (msg/s, warm, whole run)": f"{len(messages) / elapsed:,.0f}",
        "throughput (msg per CPU-second of this process)": f"{len(messages) / cpu_elapsed:,.0f}",
        "throughput (msg/s, first pass over distinct texts)": f"{cold_rate:,.0f}",
        "p50 latency (ms)": f"{_percentile(latencies, 0.50) * 1000:.3f}",
        "p99 latency (ms)": f"{_percentile(latencies, 0.99) * 1000:.3f}",
        "max latency (ms)": f"{latencies[-1] * 1000:.3f}",
        "matcher build, model load included (ms)": f"{build_ms:.0f}",
        "peak traced memory, build (MB)": f"{build_peak / 1e6:.1f}",
        "peak traced memory, classify (MB)": f"{classify_peak / 1e6:.2f}",
        "max RSS of the process (MB)": f"{max_rss_mb:.0f}",
        "load average during the measured rounds (mean / max)": (
            f"{sum(round_loads) / len(round_loads):.2f} / {max(round_loads):.2f}"
        ),
    }
    machine = {
        "CPU": _cpu_model(),
        "nproc": str(os.cpu_count()),
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "load average at the start (1/5 min)": "{:.2f} / {:.2f}".format(*load_at_start),
        "load average at the end (1/5 min)": "{:.2f} / {:.2f}".format(*os.getloadavg()[:2]),
    }
    for key, value in (*figures.items(), *machine.items()):
        print(f"{key:52} {value}")
    if args.write:
        lines = [
            "# Classify benchmark",
            "",
            "`python bench/bench_classify.py` (one process, warm).",
            "",
        ]
        lines += ["| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in (*figures.items(), *machine.items())]
        args.write.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
