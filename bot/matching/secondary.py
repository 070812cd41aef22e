"""Which further issues a message carries, besides its best one: a small second-stage model.

The first stage scores the whole message and each sentence that denies, asks or requests. A
second issue shows in those scores in several ways at once: its own score on the whole message,
its best score on a sentence, whether some sentence reads best as it (the margin over that
sentence's runner-up), how far it trails the best issue. A logistic regression over those few
numbers, fitted on out-of-fold scores of the training data (`bot.matching.training`), turns them
into one probability per issue; the secondary threshold applies to it. Plain numbers in
`meta.json`; at inference the compiled kernel (`_scoring.probabilities`) computes the features
and the probabilities in one call, `features` is what training fits on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from bot.matching import _scoring

FEATURES = (
    "whole", "sentence", "sentence_margin", "sentences", "gap", "runner_up", "bias_term",
)  # fmt: skip


def features(logits: np.ndarray, top: int) -> np.ndarray:
    """(classes, FEATURES) of every class as a further issue of the message whose best class
    is `top`, from its logits (row 0 the whole message, further rows its sentences)."""
    whole = logits[0]
    n = len(whole)
    out = np.empty((n, len(FEATURES)))
    out[:, 0] = whole
    # a message of one sentence is its own sentence
    sentences = logits[1:] if len(logits) > 1 else logits
    order = sentences.copy()  # `np.sort` is a Python wrapper around these two
    order.sort(axis=1)
    best, runner = order[:, -1:], order[:, -2:-1]
    # margin over the best other class of the sentence: > 0 where the class wins it
    margin = sentences - np.where(sentences >= best, runner, best)
    # ufunc reductions called directly: `.max()` and `np.clip` go through Python wrappers,
    # which cost more than the work on a few rows
    _MAX(sentences, axis=0, out=out[:, 1])
    _MAX(margin, axis=0, out=out[:, 2])
    out[:, 3] = _log_sentences(len(logits) - 1)
    np.subtract(whole, whole[top], out=out[:, 4])
    out[:, 5:] = _RUNNER_UP_AND_BIAS
    if n > 1:
        # the runner-up: the second of a stable descending sort (as np.argsort(-whole) sorts)
        values = (-whole).tolist()
        out[sorted(range(n), key=values.__getitem__)[1], 5] = 1.0
    return out


_RUNNER_UP_AND_BIAS = np.array((0.0, 1.0))  # an array: a tuple is converted at every call
_MAX = np.maximum.reduce


@functools.cache
def _log_sentences(count: int) -> float:
    return float(np.log1p(count))


def probabilities(weights: Sequence[float], logits: np.ndarray, top: int) -> np.ndarray:
    """Each class's probability of being a further issue of the message (`weights`: a model's
    `secondary_weights`, an array already, on the hot path): the logistic function of
    `features(logits, top) @ weights`, computed by the compiled kernel in one call."""
    out = np.empty(logits.shape[1])
    _scoring.probabilities(
        np.ascontiguousarray(logits, dtype=np.float64),
        top,
        np.asarray(weights, dtype=np.float64),
        out,
    )
    return out


def candidates(
    classes: list[str], logits: np.ndarray, top: int, excluded: set[str]
) -> tuple[list[int], np.ndarray]:
    """The classes that may be a further issue (not the best one, nor `excluded`) and their
    feature rows."""
    keep = [k for k, name in enumerate(classes) if k != top and name not in excluded]
    return keep, features(logits, top)[keep]


def fit(x: np.ndarray, y: np.ndarray, seed: int) -> list[float]:
    """Weights of the second stage (scikit-learn at training time only)."""
    from sklearn.linear_model import LogisticRegression

    if y.all() or not y.any():
        return [0.0] * (len(FEATURES) - 1) + [-10.0 if not y.any() else 10.0]
    model = LogisticRegression(C=1.0, fit_intercept=False, random_state=seed, max_iter=2000)
    model.fit(x, y)
    return [round(float(w), 6) for w in model.coef_[0]]
