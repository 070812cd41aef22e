"""Hostile text against the parser, the matcher and the corrections' scrubber: CPU seconds per
message for inputs an attacker can send (a Slack body is up to 512 KiB, a mail several MB).

Run: `python bench/bench_hostile.py [--size 50000] [--only NAME]`. A benchmark, not a test: it
prints figures (with the load beside each) and never fails on them. A message should take
milliseconds; quadratic patterns show as seconds that grow fourfold when `--size` doubles.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cases(size: int) -> dict[str, str]:
    """Named hostile messages of about `size` characters."""
    return {
        "words": ("my voucher never arrived for 71-621 " * size)[:size],
        "one long word": "a" * size,
        "zero-width spaces": "\u200b" * size + " voucher",
        "bidi controls": ("\u202evoucher\u202c " * size)[:size],
        "sentences": ("No. " * size)[:size],
        "dotted run then @": "a." * (size // 2) + "@",
        "dashed digits": "1-" * (size // 2),
        "closing lines": ("Thanks\n" * size)[:size],
        "quote markers": "> " * (size // 2) + "hi",
        "bare exam numbers": ("71 " * size)[:size],
        "MCP IDs": " ".join(str(4_000_000 + i) for i in range(size // 8)),
        "combining marks": "e" + "\u0301" * size,
        "emoji": "\U0001f600" * (size // 2),
        "quoted error": '"' + ("A program error occurred " * size)[:size] + '"',
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=50_000, help="characters per message")
    parser.add_argument("--only", help="one case by name")
    args = parser.parse_args()

    from bot.matching.corrections import scrub
    from bot.matching.knowledge import load_knowledge
    from bot.matching.matcher import Matcher
    from bot.text.parse import parse_message

    matcher = Matcher(load_knowledge(ROOT / "knowledge"))
    matcher.classify("warm up: my voucher never came")
    steps: list[tuple[str, Callable[[str], object]]] = [
        ("parse", parse_message),
        ("classify", lambda t: matcher.classify_parsed(parse_message(t), explain=False)),
        ("scrub", scrub),
    ]
    print(f"size {args.size} characters; CPU seconds per message")
    print(f"{'case':22s} " + " ".join(f"{name:>9s}" for name, _ in steps) + "   load (1 min)")
    for name, text in cases(args.size).items():
        if args.only and name != args.only:
            continue
        figures = []
        for _, step in steps:
            start = time.process_time()
            step(text)
            figures.append(time.process_time() - start)
        cells = " ".join(f"{f:9.3f}" for f in figures)
        print(f"{name:22s} {cells}   {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
