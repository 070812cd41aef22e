"""Measure the matcher against a labelled corpus: accuracy, per-issue and entity figures.

Definitions (multi-label: a message may carry several issues):
- top-1 accuracy: the best issue is one of the expected ones; for a message labelled unknown
  (`[]`), the best issue must be None.
- per-issue precision/recall/F1: over the reported `issues` lists against the expected lists.
- entity precision/recall/F1: micro-averaged per kind over the messages labelled with that kind.
- confusion: expected first issue against the predicted best issue ("(none)" for unknown).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from bot.errors import UserError
from bot.matching.matcher import Matcher
from bot.text.parse import parse_message
from bot.types import NOT_A_REQUEST

NONE_LABEL = "(none)"
ENTITY_KINDS = ("exams", "providers", "regions", "mcp_ids")


class LabelledMessage(BaseModel):
    text: str
    channel: Literal["email", "slack"] = "email"
    issues: list[str] | None = None
    entities: dict[str, list[str]] = Field(default_factory=dict)
    # tune / holdout: the first corpus; blind / blind-train: written by people who never saw
    # knowledge/ (tests/data/README.md); blind is frozen and never tuned on.
    split: Literal["tune", "holdout", "blind", "blind-train", "knowledge", "corrections"] = "tune"
    voice: str | None = None  # agent-oneliner, long-mail, non-native, multi-issue, ...
    writer: str | None = None


class Figures(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class EvalReport(BaseModel):
    messages: int
    top1_accuracy: float
    issues: dict[str, Figures]
    entities: dict[str, Figures]
    confusion: dict[str, dict[str, int]]
    # Messages labelled with several issues, and the share of them with every label reported.
    multi_issue_messages: int = 0
    multi_issue_recall: float = 1.0
    # Requests (anything but a plain not-a-request) read as not-a-request: at any confidence,
    # and at or above the not-a-request threshold (those would make no ticket).
    requests_as_not_a_request: int = 0
    requests_dropped: int = 0
    # Share of the messages read as a wrong catalogue issue at or above the auto-answer threshold.
    wrong_above_auto: float = 0.0
    auto_answered_share: float = 0.0
    per_voice: dict[str, float] = Field(default_factory=dict)

    @property
    def min_recall(self) -> float:
        return min((f.recall for f in self.issues.values() if f.support), default=1.0)


def load_corpus(paths: Iterable[Path]) -> list[LabelledMessage]:
    """Read JSONL corpora; a bad line is reported with its file and line number."""
    rows: list[LabelledMessage] = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UserError(f"{path}: cannot read: {exc}") from exc
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(LabelledMessage.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise UserError(f"{path}:{number}: invalid labelled message: {exc}") from exc
    return rows


def _figures(tp: int, fp: int, fn: int) -> Figures:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Figures(
        precision=round(precision, 4), recall=round(recall, 4), f1=round(f1, 4), support=tp + fn
    )


def evaluate(matcher: Matcher, rows: list[LabelledMessage]) -> EvalReport:
    """Classify every row and compare with its labels."""
    t = matcher.thresholds
    correct = multi = multi_found = as_nar = dropped = wrong_auto = auto = 0
    counts: dict[str, Counter[str]] = defaultdict(Counter)  # issue -> tp/fp/fn
    entity_counts: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    voices: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        result = matcher.classify_parsed(parse_message(row.text), explain=False)
        expected = row.issues or []
        ok = (result.issue in expected) if expected else result.issue is None
        correct += ok
        if row.voice:
            voices[row.voice].append(ok)
        confusion[expected[0] if expected else NONE_LABEL][result.issue or NONE_LABEL] += 1
        got = {i.id for i in result.issues}
        if len(expected) > 1:
            multi += 1
            multi_found += set(expected) <= got
        if result.issue == NOT_A_REQUEST and expected != [NOT_A_REQUEST]:
            as_nar += 1
            dropped += result.confidence >= t.not_a_request
        if result.issue not in (None, NOT_A_REQUEST) and result.confidence >= t.auto_answer:
            auto += 1
            wrong_auto += result.issue not in expected
        for iid in got | set(expected):
            counts[iid][
                "tp" if iid in got and iid in expected else "fp" if iid in got else "fn"
            ] += 1
        found = result.entities.model_dump()
        for kind, values in row.entities.items():
            if kind not in found:
                continue
            want, have = set(values), set(found[kind])
            entity_counts[kind]["tp"] += len(want & have)
            entity_counts[kind]["fp"] += len(have - want)
            entity_counts[kind]["fn"] += len(want - have)
    n = len(rows) or 1
    return EvalReport(
        messages=len(rows),
        top1_accuracy=round(correct / n, 4) if rows else 0.0,
        issues={i: _figures(c["tp"], c["fp"], c["fn"]) for i, c in sorted(counts.items())},
        entities={k: _figures(c["tp"], c["fp"], c["fn"]) for k, c in sorted(entity_counts.items())},
        confusion={e: dict(sorted(p.items())) for e, p in sorted(confusion.items())},
        multi_issue_messages=multi,
        multi_issue_recall=round(multi_found / multi, 4) if multi else 1.0,
        requests_as_not_a_request=as_nar,
        requests_dropped=dropped,
        wrong_above_auto=round(wrong_auto / n, 4),
        auto_answered_share=round(auto / n, 4),
        per_voice={v: round(sum(oks) / len(oks), 4) for v, oks in sorted(voices.items())},
    )
