"""The plain baseline the learned matcher is measured beside: TF-IDF over word 1-2-grams and
character 3-5-grams of the raw lower-cased text, one logistic regression, nothing else (no
parser, no sentences, no thresholds); trained on the same rows, evaluated in the same run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from threadpoolctl import threadpool_limits

from bot.matching.evaluation import LabelledMessage
from bot.matching.model import UNKNOWN


def baseline_top1(
    train: Sequence[LabelledMessage], test: Sequence[LabelledMessage]
) -> tuple[float, dict[str, float]]:
    """(top-1 accuracy, top-1 per voice) of the baseline on `test`."""
    pipeline = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char", ngram_range=(3, 5), sublinear_tf=True),
        ),
        LogisticRegression(C=10.0, max_iter=3000),
    )
    with threadpool_limits(limits=1):
        pipeline.fit([r.text for r in train], [(r.issues or [UNKNOWN])[0] for r in train])
        predicted = pipeline.predict([r.text for r in test]) if test else []
    hits = [
        (p in r.issues) if r.issues else p == UNKNOWN for p, r in zip(predicted, test, strict=True)
    ]
    voices: dict[str, list[bool]] = defaultdict(list)
    for ok, row in zip(hits, test, strict=True):
        if row.voice:
            voices[row.voice].append(ok)
    per_voice = {v: round(float(np.mean(x)), 4) for v, x in sorted(voices.items())}
    return (round(float(np.mean(hits)), 4) if hits else 0.0), per_voice
