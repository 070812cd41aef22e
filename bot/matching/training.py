"""Train the learned matcher: scikit-learn fits, numpy serves (`bot.matching.model`).

Recipe (deterministic: fixed seeds, one BLAS thread, sorted inputs):
1. Training rows: every `knowledge/` example, `tests/data/eval-tune.jsonl`,
   `blind-train.jsonl`, `blind-train-2.jsonl` and agents' corrections. Never the frozen blind
   split or the old holdout (those are only evaluated).
2. Features (`bot.matching.features`, `bot.matching.model`): TF-IDF word 1-2-grams and hashed
   character 3-5-grams of the normalised text, plus the parser's features; the matrix is built
   with the very code inference uses.
3. One-vs-rest logistic regression, one binary model per issue and one for out-of-catalogue.
4. Out-of-fold scores (stratified k-fold over the non-knowledge rows; the knowledge examples
   always train) choose the rest (`bot.matching.calibration`): the sentences' weight in the best
   issue, the confidence, the second stage for further issues and the thresholds.

The settings (C, block weights) were compared by repeated cross-validation on these rows only
(README, Evaluation).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from bot.matching import matcher
from bot.matching.calibration import choose
from bot.matching.evaluation import LabelledMessage, load_corpus
from bot.matching.features import dense, segments
from bot.matching.knowledge import KnowledgeBase
from bot.matching.model import UNKNOWN, LinearModel, Vocabulary, weigh
from bot.text.parse import parse_message

TRAIN_FILES = ("eval-tune.jsonl", "blind-train.jsonl", "blind-train-2.jsonl")
SEED = 20260
FOLDS = 5
C = 10.0
WORD_WEIGHT, CHAR_WEIGHT = 1.0, 3.0  # by cross-validation: character n-grams generalise best


def training_rows(
    kb: KnowledgeBase, data_dir: Path, corrections: Sequence[LabelledMessage] = ()
) -> list[LabelledMessage]:
    """The knowledge examples, the training corpora and the corrections, in a fixed order."""
    rows = [
        LabelledMessage(text=example, issues=[issue.id], split="knowledge")
        for issue in sorted(kb.issues.values(), key=lambda i: i.id)
        for example in issue.examples
    ]
    rows += load_corpus([data_dir / name for name in TRAIN_FILES])
    return rows + list(corrections)


class _Prepared:
    """A row's flat text, sentences and features, computed once for every fold."""

    def __init__(self, row: LabelledMessage) -> None:
        parsed = parse_message(row.text)
        self.whole, spans, moods = segments(parsed, parsed.new_text)
        self.dense = dense(parsed, self.whole, moods)
        self.spans, self.unit_dense = [], []
        for (a, b), mood in matcher.carriers(spans, moods):
            self.spans.append((a, b))
            self.unit_dense.append(dense(parsed, self.whole[a:b], [mood]))
        self.labels = row.issues or [UNKNOWN]


@dataclass(frozen=True)
class Recipe:
    """The settings cross-validation compared (README, Evaluation)."""

    c: float = C
    word_weight: float = WORD_WEIGHT
    char_weight: float = CHAR_WEIGHT


def fit(
    prepared: Sequence[_Prepared], classes: list[str], recipe: Recipe = Recipe()
) -> LinearModel:
    """Fit the vocabulary, idf and one binary logistic regression per class."""
    vocabulary = Vocabulary.fit([p.whole for p in prepared])
    cells = [vocabulary.cells(p.whole) for p in prepared]
    df = np.bincount(np.concatenate([col for _, col, _ in cells]), minlength=vocabulary.n_columns)
    # scikit-learn's smooth idf; float32 as stored, so training and inference agree exactly
    idf = (np.log((1 + len(prepared)) / (1 + df)) + 1).astype(np.float32).astype(np.float64)
    idf[0] = 0.0
    blocks = (recipe.word_weight, recipe.char_weight)
    data = [weigh(1, row, col, n, idf, vocabulary.n_words, blocks) for row, col, n in cells]
    text = sparse.csr_matrix(
        (np.concatenate(data), np.concatenate([col for _, col, _ in cells]),
         np.cumsum([0, *(len(col) for _, col, _ in cells)])),
        shape=(len(prepared), vocabulary.n_columns),
    )  # fmt: skip
    x = sparse.hstack([text, sparse.csr_matrix(np.array([p.dense for p in prepared]))]).tocsr()
    weights = np.zeros((x.shape[1], len(classes)))
    bias = np.full(len(classes), -10.0)
    for k, name in enumerate(classes):
        y = np.array([name in p.labels for p in prepared])
        if y.all() or not y.any():
            continue
        model = LogisticRegression(C=recipe.c, solver="liblinear", random_state=SEED,
                                   max_iter=1000)  # fmt: skip
        model.fit(x, y)
        weights[:, k] = model.coef_[0]
        bias[k] = model.intercept_[0]
    return LinearModel(
        classes=classes,
        vocabulary=vocabulary,
        idf=idf,
        weights=np.round(weights, 5).astype(np.float32),
        bias=np.round(bias, 5),
        word_weight=recipe.word_weight,
        char_weight=recipe.char_weight,
    )


def _logits(model: LinearModel, p: _Prepared) -> np.ndarray:
    return model.score_message(p.whole, p.spans, [p.dense, *p.unit_dense])


def _strata(rows: Sequence[LabelledMessage]) -> list[str]:
    """Split and main label; rare ones fall back to the split, then to the largest stratum."""
    keys = [f"{r.split}|{(r.issues or [UNKNOWN])[0]}" for r in rows]
    counts = Counter(keys)
    keys = [k if counts[k] >= FOLDS else k.split("|")[0] for k in keys]
    counts = Counter(keys)
    largest = max(counts, key=lambda k: (counts[k], k))
    return [k if counts[k] >= FOLDS else largest for k in keys]


def out_of_fold(
    rows: Sequence[LabelledMessage], prepared: Sequence[_Prepared], classes: list[str]
) -> list[np.ndarray | None]:
    """Each non-knowledge row's logits from a model that never saw it (None for knowledge)."""
    pool = [i for i, r in enumerate(rows) if r.split != "knowledge"]
    fixed = [i for i, r in enumerate(rows) if r.split == "knowledge"]
    out: list[np.ndarray | None] = [None] * len(rows)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    for train, test in folds.split(pool, _strata([rows[i] for i in pool])):
        model = fit([prepared[i] for i in fixed + [pool[j] for j in train]], classes)
        for j in test:
            out[pool[j]] = _logits(model, prepared[pool[j]])
    return out


def data_digest(rows: Sequence[LabelledMessage]) -> str:
    payload = json.dumps([[r.text, r.issues or []] for r in rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def train(kb: KnowledgeBase, rows: Sequence[LabelledMessage]) -> LinearModel:
    """The model for `rows`, with calibration, thresholds and out-of-fold figures."""
    classes = [*sorted(kb.issues), UNKNOWN]
    # One BLAS thread for every step, the second stage's choice included, whatever thread
    # state the process is in: a product split over threads sums in another order.
    with threadpool_limits(limits=1):
        prepared = [_Prepared(r) for r in rows]
        oof = out_of_fold(rows, prepared, classes)
        model = fit(prepared, classes)
        calibration, thresholds, weights, sentence_weight, figures = choose(model, rows, oof)
    # A new model, not the fitted one changed: what it derives from its fields (the second
    # stage's array among them) is derived when it is made.
    return replace(
        model,
        calibration=calibration,
        thresholds=thresholds,
        secondary=weights,
        sentence_weight=sentence_weight,
        meta={
            "data": data_digest(rows),
            "rows": dict(sorted(Counter(r.split for r in rows).items())),
            "training": figures,
        },
    )
