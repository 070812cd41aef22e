"""Match a message to the known issues with the learned model (`bot.matching.model`).

One-vs-rest logistic regression over word and character n-grams and the parser's features
scores the whole message and each sentence. The best class of the whole message is the issue
(an out-of-catalogue class, or a calibrated confidence below the unknown threshold, says
unknown); a further issue is reported when the whole message or a sentence that reads best as it
gives it at least the secondary threshold. `classify` is pure and deterministic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydantic import BaseModel, Field, PrivateAttr
from threadpoolctl import threadpool_limits

from bot.matching import _scoring, secondary
from bot.matching.features import (
    DENSE,
    message_features,
    row_features,
    segments,
)
from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.model import SHIPPED_DIR, UNKNOWN, LinearModel, Thresholds
from bot.text.parse import parse_message
from bot.text.sentences import ANY_MOOD
from bot.types import NOT_A_REQUEST, Entities, ParsedMessage, Signals

_EXPLAIN_TERMS = 6
T = TypeVar("T")


class IssueScore(BaseModel):
    id: str
    score: float


class Evidence(BaseModel):
    """Why an issue scored: a phrase (a word with the character n-grams in it, or a word pair)
    or a parser feature, and its contribution to the issue's score."""

    issue: str
    kind: str  # phrase | feature
    detail: str
    weight: float


class Classification(BaseModel):
    """The matcher's verdict; `issue` is None when nothing is good enough."""

    issue: str | None
    confidence: float
    issues: list[IssueScore] = Field(default_factory=list)
    entities: Entities
    signals: Signals
    # Computed only when asked for: most callers never look at it.
    _explain: Callable[[], list[Evidence]] | None = PrivateAttr(default=None)

    @property
    def explanation(self) -> list[Evidence]:
        """The phrases and parser features that counted most for the best issue."""
        return self._explain() if self._explain else []

    def contract(self) -> dict[str, object]:
        """The `triage classify --json` object (see DESIGN.md)."""
        return {
            "issue": self.issue,
            "confidence": self.confidence,
            "issues": [i.model_dump() for i in self.issues],
            "entities": self.entities.model_dump(),
        }


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -500 else 0.0  # exp overflows below


class Matcher:
    """Classifies messages with one learned model (the shipped one unless given)."""

    def __init__(self, kb: KnowledgeBase, model: LinearModel | None = None) -> None:
        self.kb = kb
        self.model = model or shipped_model()
        # A message is scored with products of a few rows: BLAS threads would not speed them
        # up, but after each long message they wait for work by spinning, a core's worth of CPU.
        # One thread for the process (the training does the same for its own products).
        threadpool_limits(limits=1, user_api="blas")
        missing = set(kb.issues) - set(self.model.classes)
        if missing:
            raise ValueError(f"the model knows nothing of {sorted(missing)}: retrain it")

    @property
    def thresholds(self) -> Thresholds:
        return self.model.thresholds

    def classify(self, text: str) -> Classification:
        """Classify one message."""
        return self.classify_parsed(parse_message(text))

    def classify_parsed(self, parsed: ParsedMessage, *, explain: bool = True) -> Classification:
        """Classify a message that is already parsed (the parse is reused for its entities)."""
        whole, spans, moods = segments(parsed, parsed.new_text)
        if not any(c.isalpha() for c in whole):
            return Classification(
                issue=None, confidence=0.0, entities=parsed.entities, signals=parsed.signals
            )
        message = message_features(parsed)
        rows, features = [whole], [row_features(message, whole, moods)]
        kept = carriers(spans, moods)
        for (a, b), mood in kept:
            rows.append(whole[a:b])
            features.append(row_features(message, rows[-1], [mood]))
        logits = self.model.score_message(whole, [span for span, _ in kept], features)
        return self._decide(parsed, logits, rows, features, explain=explain)

    def _decide(
        self,
        parsed: ParsedMessage,
        logits: np.ndarray,
        rows: list[str],
        features: list[list[float]],
        *,
        explain: bool,
    ) -> Classification:
        m = self.model
        issue, confidence, chosen = read_logits(
            m.classes, logits, m.thresholds, m.calibration, m.secondary_weights, m.sentence_weight
        )
        if issue is not None and issue not in self.kb.issues:
            issue, chosen = None, []
        # Plain construction: with pydantic 2, validating these few fields (the entities and
        # signals are model instances, not validated again) is faster than `model_construct`.
        result = Classification(
            issue=issue,
            confidence=round(confidence, 2),
            issues=[IssueScore(id=i, score=round(s, 2)) for i, s in chosen],
            entities=parsed.entities,
            signals=parsed.signals,
        )
        if explain and issue is not None:
            result._explain = functools.partial(self.evidence, issue, rows[0], features[0])
        return result

    def evidence(self, issue: str, text: str, feature_row: list[float]) -> list[Evidence]:
        """The terms and parser features of `text` that add most to `issue`'s score."""
        m = self.model
        k = m.classes.index(issue)
        found = [
            Evidence(issue=issue, kind="phrase", detail=term, weight=w)
            for term, w in m.contributions(text, k).items()
        ]
        for name, value, w in zip(DENSE, feature_row, m.weights[-len(DENSE) :, k], strict=True):
            if value:
                found.append(
                    Evidence(issue=issue, kind="feature", detail=name, weight=float(value * w))
                )
        found = [e for e in found if e.weight > 0]
        found.sort(key=lambda e: (-e.weight, e.detail))
        return [e.model_copy(update={"weight": round(e.weight, 3)}) for e in found[:_EXPLAIN_TERMS]]


# Only a sentence that denies, asks or requests may carry an issue of its own: a statement of
# fact ("I received the invitation") is context.
CARRIER_MOODS = ANY_MOOD


def carriers(units: list[T], moods: list[int]) -> list[tuple[T, int]]:
    """The sentences scored on their own, beside the whole message (none for one sentence)."""
    if len(units) < 2:
        return []
    return [(u, m) for u, m in zip(units, moods, strict=True) if m & CARRIER_MOODS]


def combined(logits: np.ndarray, sentence_weight: float) -> list[float]:
    """Each class's score for the best issue: the whole message's, averaged by
    `sentence_weight` with its best score on a sentence of its own,
    `(logits[0] + w * logits[1:].max(axis=0)) / (1 + w)`. The compiled kernel computes it in
    one call (three numpy calls and a `tolist` cost more than the arithmetic on 14 classes)."""
    return _scoring.combined(np.ascontiguousarray(logits, dtype=np.float64), sentence_weight)


def read_logits(
    classes: list[str],
    logits: np.ndarray,
    thresholds: Thresholds,
    calibration: tuple[float, float],
    secondary_weights: Sequence[float] | None = None,
    sentence_weight: float = 0.0,
) -> tuple[str | None, float, list[tuple[str, float]]]:
    """(issue or None, calibrated confidence, [(issue, score)] best first) from the logits of
    the whole message (row 0) and of its sentences (further rows). With the second stage's
    weights a further issue is one whose probability from `secondary` reaches the threshold;
    without, one whose score on the whole message or on a sentence that reads best as it does.
    The best issue reads the whole message and, by `sentence_weight`, its sentences' best
    scores: the sentence that asks or complains outweighs the context around it."""
    whole = combined(logits, sentence_weight)
    # best first, ties by name (plain floats: indexing numpy arrays costs more than sorting)
    ranked = zip([-x for x in whole], classes, range(len(classes)), strict=True)
    order = [k for _, _, k in sorted(ranked)]
    top = order[0]
    a, b = calibration
    confidence = _sigmoid(a * whole[top] + b)
    if classes[top] == UNKNOWN or confidence < thresholds.unknown:
        return None, confidence, []
    chosen = [(classes[top], confidence)]
    if classes[top] == NOT_A_REQUEST:
        # A sentence that complains, asks or requests and reads best as a catalogue issue
        # means a person may be asking for something inside the thanks: never confident
        # enough to drop the message (below the threshold it goes to a person).
        for row in logits[1:]:
            k = int(row.argmax())
            asked = classes[k] not in (UNKNOWN, NOT_A_REQUEST)
            if asked and _sigmoid(float(row[k])) >= thresholds.secondary:
                confidence = min(confidence, thresholds.not_a_request - 0.01)  # rounded: below
                chosen = [(classes[top], confidence)]
                break
        return classes[top], confidence, chosen
    if secondary_weights is not None:
        further = secondary.probabilities(secondary_weights, logits, top).tolist()
        extra = [
            (classes[k], min(further[k], confidence))
            for k in order[1:]
            if further[k] >= thresholds.secondary and classes[k] not in (UNKNOWN, NOT_A_REQUEST)
        ]
        extra.sort(key=lambda c: (-c[1], c[0]))
        return classes[top], confidence, chosen + extra
    # A sentence carries the issue it reads best as; a context sentence reads as the primary
    # issue or as nothing in particular, and adds nothing.
    carried = logits[1:].argmax(axis=1).tolist() if len(logits) > 1 else []
    extra = []
    for k in order[1:]:
        if classes[k] in (UNKNOWN, NOT_A_REQUEST):
            continue
        score = _sigmoid(whole[k])
        for r, best in enumerate(carried, 1):
            if best == k:
                score = max(score, _sigmoid(float(logits[r, k])))
        if score >= thresholds.secondary:
            extra.append((classes[k], min(score, confidence)))  # best first, as the contract says
    extra.sort(key=lambda c: (-c[1], c[0]))
    return classes[top], confidence, chosen + extra


@functools.lru_cache(maxsize=1)
def shipped_model() -> LinearModel:
    """The model that ships in the package (trained on the repository's data)."""
    return LinearModel.load(SHIPPED_DIR)


@functools.lru_cache(maxsize=4)
def get_matcher(knowledge_dir: Path) -> Matcher:
    """The matcher for a knowledge directory with the shipped model, built once per process."""
    return Matcher(load_knowledge(knowledge_dir))
