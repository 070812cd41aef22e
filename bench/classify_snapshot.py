"""Snapshot `Matcher.classify` over every corpus text, and compare two snapshots.

Run: `python bench/classify_snapshot.py save OUT.json`, then, after a change,
`python bench/classify_snapshot.py compare OUT.json`. A speed change must leave every answer as
it was: issues, confidences, entities, signals, the explanation and the parse exactly, the raw
logits to 1e-4. The report names the parts that differ and how many texts each. The snapshot keys
texts by their SHA-256 and the report prints counts and keys only, never a text (the frozen blind
split is among the corpora).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# float32 sums in another order move a logit by ~1e-6; a change of answer moves it far more
LOGIT_TOLERANCE = 1e-4


def _texts() -> list[str]:
    texts = [
        json.loads(line)["text"]
        for p in sorted((ROOT / "tests" / "data").glob("*.jsonl"))
        for line in p.open(encoding="utf-8")
        if line.strip()
    ]
    texts += [
        json.loads(line)["text"]
        for line in (ROOT / "samples" / "slack" / "messages.jsonl").open(encoding="utf-8")
        if line.strip()
    ]
    for path in sorted([*(ROOT / "samples" / "mail").glob("*.eml"),
                        *(ROOT / "tests" / "data" / "email").glob("*")]):  # fmt: skip
        raw = path.read_bytes()
        texts.append(raw.decode("utf-8", "replace"))
        body = message_from_bytes(raw, policy=policy.default).get_body(("plain",))
        if body is not None:
            with contextlib.suppress(LookupError, ValueError):  # a charset Python lacks
                texts.append(body.get_content())
    # Variations that reach other branches: cut short, shouted, one line, sentences alone.
    more = []
    for text in texts:
        more += [text[: len(text) // 2], text.upper(), " ".join(text.split())]
        more += [s for s in text.split(". ")[:3] if s]
    return texts + more


def _snapshot() -> dict[str, dict[str, object]]:
    from bot.matching import matcher as matching
    from bot.matching.knowledge import load_knowledge
    from bot.text.parse import parse_message

    seen: list[list[list[float]]] = []
    read_logits = matching.read_logits

    def recording(classes, logits, *args):  # type: ignore[no-untyped-def]
        seen.append(logits.tolist())
        return read_logits(classes, logits, *args)

    matching.read_logits = recording
    matcher = matching.Matcher(load_knowledge(ROOT / "knowledge"))
    out: dict[str, dict[str, object]] = {}
    for text in _texts():
        key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        seen.clear()
        result = matcher.classify(text)
        out[key] = {
            "contract": result.contract(),
            "signals": result.signals.model_dump(),
            "explanation": [e.model_dump() for e in result.explanation],
            "parsed": parse_message(text).model_dump(mode="json"),
            "logits": list(seen),
        }
    return out


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= LOGIT_TOLERANCE
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _parts(entry: dict[str, Any]) -> dict[str, object]:
    """One text's answer by the parts a reader checks: issues, confidences, entities, logits,
    and the rest of what `classify` returns."""
    contract = entry["contract"]
    return {
        "issues": [contract["issue"], [i["id"] for i in contract["issues"]]],
        "confidences": [contract["confidence"], [i["score"] for i in contract["issues"]]],
        "entities": contract["entities"],
        "logits": entry["logits"],
        "signals": entry["signals"],
        "explanation": entry["explanation"],
        "parsed": entry["parsed"],
    }


def _differing(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The parts of one text's answer that differ: logits beyond the tolerance, the rest at all."""
    a, b = _parts(before), _parts(now)
    return [
        part
        for part in a
        if not (_close(a[part], b[part]) if part == "logits" else a[part] == b[part])
    ]


def _largest_logit_difference(before: dict[str, Any], now: dict[str, Any]) -> float:
    return max(
        (abs(x - y) for k in before.keys() & now.keys()
         for za, zb in zip(before[k]["logits"], now[k]["logits"], strict=False)
         for ra, rb in zip(za, zb, strict=False) for x, y in zip(ra, rb, strict=False)),
        default=0.0,
    )  # fmt: skip


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "compare"):
        sys.exit("usage: python bench/classify_snapshot.py save|compare FILE")
    action, path = sys.argv[1], Path(sys.argv[2])
    if action == "compare" and not path.is_file():
        sys.exit(f"no snapshot at {path}: take one with `save` first")
    now = json.loads(json.dumps(_snapshot()))
    if action == "save":
        path.write_text(json.dumps(now, sort_keys=True))
        print(f"saved {len(now)} texts")
        return
    before = json.loads(path.read_text())
    print(f"largest logit difference: {_largest_logit_difference(before, now):.3g}")
    differ: dict[str, list[str]] = {}
    for key in sorted(before.keys() | now.keys()):
        a, b = before.get(key), now.get(key)
        differ[key] = ["missing"] if a is None or b is None else _differing(a, b)
    differ = {key: parts for key, parts in differ.items() if parts}
    print(f"{len(before)} texts before, {len(now)} now, {len(differ)} differ")
    by_part = Counter(part for parts in differ.values() for part in parts)
    for part in ("issues", "confidences", "entities", "logits", "signals", "explanation",
                 "parsed", "missing"):  # fmt: skip
        print(f"  {part:12} {by_part[part]} texts differ")
    for key, parts in list(differ.items())[:20]:
        print(f"  {key}: {', '.join(parts)}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
