"""Deterministic cost of classifying: instructions per message under callgrind, per stage.

Run: `python bench/callgrind_classify.py [--stages classify,parse,...] [--every 5]`. Each stage
runs alone in its own `valgrind --tool=callgrind` process over every `--every`-th corpus text,
warm (one untimed pass first), inside `collections.deque(map(...), maxlen=0)`; only
`consume_iterator` is collected, so imports and set-up are not counted. Instruction counts do
not move with the machine's load, unlike a clock (this machine is shared). `--cprofile` prints
a cProfile of `classify` instead.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("classify", "parse", "segments", "normalise", "score", "decide")


def _texts(every: int) -> list[str]:
    texts = [
        json.loads(line)["text"]
        for p in sorted((ROOT / "tests" / "data").glob("*.jsonl"))
        for line in p.open(encoding="utf-8")
        if line.strip()
    ]
    return texts[::every]


def _stage(name: str, every: int):  # type: ignore[no-untyped-def]
    """(function, arguments): the stage as one call per message, its inputs made beforehand."""
    from bot.matching import features, matcher
    from bot.matching.knowledge import load_knowledge
    from bot.text.parse import parse_message

    m = matcher.Matcher(load_knowledge(ROOT / "knowledge"))
    texts = _texts(every)
    parsed = [parse_message(t) for t in texts]
    if name == "classify":
        return m.classify, [(t,) for t in texts]
    if name == "parse":
        return parse_message, [(t,) for t in texts]
    if name == "segments":
        return features.segments, [(p, p.new_text) for p in parsed]
    if name == "normalise":
        return features.normalise, [(p.new_text,) for p in parsed]
    scored = []
    for p in parsed:
        whole, spans, moods = features.segments(p, p.new_text)
        if not any(c.isalpha() for c in whole):
            continue
        message = features.message_features(p)
        rows, feats = [whole], [features.row_features(message, whole, moods)]
        kept = matcher.carriers(spans, moods)
        for (a, b), mood in kept:
            rows.append(whole[a:b])
            feats.append(features.row_features(message, rows[-1], [mood]))
        scored.append((p, whole, [s for s, _ in kept], rows, feats))
    if name == "score":
        return m.model.score_message, [(w, s, f) for _, w, s, _, f in scored]
    if name == "decide":
        args = [(p, m.model.score_message(w, s, f), rows, f) for p, w, s, rows, f in scored]
        return (lambda p, logits, rows, f: m._decide(p, logits, rows, f, explain=True)), args
    raise SystemExit(f"unknown stage {name}")


def _run_inside(name: str, every: int) -> None:
    """The measured part, inside valgrind: a warm pass, then the collected one."""
    fn, args = _stage(name, every)
    for a in args:
        fn(*a)
    collections.deque((fn(*a) for a in args), maxlen=0)
    print(f"calls {len(args)}")


def _callgrind(name: str, every: int) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             "--toggle-collect=consume_iterator", sys.executable, __file__,
             "--inside", name, "--every", str(every)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        calls = int(re.search(r"calls (\d+)", run.stdout).group(1))
        summary = re.search(r"^summary: (\d+)", out.read_text(), re.M)
        return int(summary.group(1)), calls


def _cprofile(every: int) -> None:
    import cProfile
    import pstats

    fn, args = _stage("classify", every)
    for a in args:
        fn(*a)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(3):
        for a in args:
            fn(*a)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--inside", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    if args.inside:
        _run_inside(args.inside, args.every)
        return
    if args.cprofile:
        _cprofile(args.every)
        return
    for name in args.stages.split(","):
        instructions, calls = _callgrind(name, args.every)
        print(f"{name:12} {instructions / calls / 1000:10,.0f} k instructions per call ({calls})")


if __name__ == "__main__":
    main()
