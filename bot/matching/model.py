"""The learned model at inference: plain arrays and JSON, read with numpy, never a pickle.

The features are TF-IDF blocks (sublinear tf, smooth idf, l2 norm per block): word 1-2-grams
by dictionary look-up, and character 3-5-grams hashed into buckets with numpy
(`features.char_buckets`, the hashing trick: the model learns buckets). Training builds its
matrix with the same `cells` and `weigh` as inference, so the two cannot drift apart. One pass
scores the whole message and, when asked, each of its sentences (one row each).

Columns: 0 is "not in the vocabulary" (idf 0, weights 0), then the words, then the buckets seen
in training, then the parser's features (DENSE). Files of a model directory: `meta.json`
(classes, block weights, calibration, thresholds, training figures), `words.json` (the word
terms by column) and the arrays `buckets.npy`, `idf.npy`, `weights.npy`, `bias.npy`.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.matching import _scoring
from bot.matching.features import (
    BUCKET_BITS,
    CHAR_MAX,
    CHAR_MIN,
    DENSE,
    HASH_BASE,
    HASH_MIX,
    HASH_SALT,
    WORD,
    char_buckets,
    word_terms,
)

UNKNOWN = "(unknown)"  # the class of out-of-catalogue messages
SHIPPED_DIR = Path(__file__).resolve().parent / "model"
ARRAYS = ("buckets", "idf", "weights", "bias")
_META_KEYS = {"classes", "dense", "char_range", "bucket_bits", "word_weight", "char_weight",
              "calibration", "thresholds", "secondary", "sentence_weight"}  # fmt: skip


class ModelFormatError(ValueError):
    """A stored model of another feature set (an older release): retrain it."""


@dataclass
class Thresholds:
    """Decision thresholds, chosen on out-of-fold predictions of the training data."""

    auto_answer: float = 0.9  # calibrated confidence at which an answer may go out alone
    not_a_request: float = 0.9  # ... at which a not-a-request reading makes no ticket
    unknown: float = 0.0  # below this calibrated confidence the message is unknown
    secondary: float = 0.5  # a second issue's probability (whole message or own sentence)

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


@dataclass
class Vocabulary:
    """Word terms and character buckets, each to its column (0: not in the vocabulary)."""

    words: dict[str, int]
    buckets: np.ndarray  # sorted bucket ids; bucket `buckets[i]` is column 1 + len(words) + i

    def __post_init__(self) -> None:
        self.buckets = np.asarray(self.buckets, dtype=np.int64)

    @functools.cached_property
    def table(self) -> np.ndarray:
        """One int32 per possible bucket (4 MB): a look-up is one gather, no search. Built on
        first use, by training and explanations: scoring reads the kernel's own bitmap."""
        table = np.zeros(1 << BUCKET_BITS, dtype=np.int32)
        table[self.buckets] = np.arange(len(self.buckets), dtype=np.int32) + self.n_words + 1
        return table

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_columns(self) -> int:
        """Columns of the two text blocks, the unknown column 0 included."""
        return 1 + self.n_words + len(self.buckets)

    @classmethod
    def fit(cls, texts: list[str]) -> Vocabulary:
        """Every word term and bucket of `texts`, words in sorted order."""
        words = sorted({t for text in texts for t in word_terms(text)})
        seen = np.unique(np.concatenate([char_buckets(t) for t in texts] or [np.empty(0)]))
        return cls(words={w: i + 1 for i, w in enumerate(words)}, buckets=seen)

    def cells(self, whole: str, spans: list[tuple[int, int]] = ()) -> tuple[np.ndarray, ...]:
        """(row, column, count) of the whole message (row 0) and of each span (row 1, ...),
        sorted by row then column; out-of-vocabulary terms fall into column 0."""
        get = self.words.get
        n_cols = self.n_columns
        cols = [get(t, 0) for t in word_terms(whole)]
        word_keys = np.array(cols, dtype=np.int64)
        buckets = char_buckets(whole)
        char_cols = self.table[buckets].astype(np.int64)
        parts = [word_keys, char_cols]
        if spans:
            for r, (a, b) in enumerate(spans, 1):
                unit = [get(t, 0) for t in word_terms(whole[a:b])]
                parts.append(np.array(unit, dtype=np.int64) + r * n_cols)
            parts.append(_span_keys(len(whole), spans, char_cols, n_cols))
        keys, counts = np.unique(np.concatenate(parts), return_counts=True)
        if spans:
            return keys // n_cols, keys % n_cols, counts
        return np.zeros(len(keys), dtype=np.int64), keys, counts


def _span_keys(
    length: int, spans: list[tuple[int, int]], char_cols: np.ndarray, n_cols: int
) -> np.ndarray:
    """Row-offset keys of the character n-grams lying wholly inside a span."""
    starts, ends = [], []
    for n in range(CHAR_MIN, CHAR_MAX + 1):
        count = max(0, length - n + 1)
        starts.append(np.arange(count))
        ends.append(np.arange(n, n + count))
    start, end = np.concatenate(starts), np.concatenate(ends)
    first = np.array([a for a, _ in spans])
    last = np.array([b for _, b in spans])
    unit = np.searchsorted(first, start, side="right") - 1
    inside = (unit >= 0) & (end <= last[np.maximum(unit, 0)])
    return (unit[inside] + 1) * n_cols + char_cols[inside]


def weigh(
    rows: int,
    row: np.ndarray,
    col: np.ndarray,
    counts: np.ndarray,
    idf: np.ndarray,
    n_words: int,
    block_weights: tuple[float, float],
) -> np.ndarray:
    """TF-IDF values of cells: tf times idf, divided per row and block by the l2 norm of its
    occurrences (the square root of the sum of idf squared over every term occurrence), times
    the block's weight. That norm needs no counting, so inference sums the weights of the
    occurrences as they come (`LinearModel.score_message`)."""
    values = counts * idf[col]
    sq = values * idf[col]
    block = (col > n_words).astype(np.int64)
    slot = row * 2 + block
    norms = np.sqrt(np.bincount(slot, weights=sq, minlength=2 * rows))
    norms[norms == 0] = 1.0
    scale = np.array(block_weights) / norms.reshape(rows, 2)
    return values * scale.ravel()[slot]


@dataclass
class LinearModel:
    classes: list[str]
    vocabulary: Vocabulary
    idf: np.ndarray  # per text column; 0 for column 0
    weights: np.ndarray  # (text columns + DENSE, classes)
    bias: np.ndarray
    word_weight: float = 1.0
    char_weight: float = 1.0
    calibration: tuple[float, float] = (1.0, 0.0)  # Platt: sigmoid(a * logit + b)
    thresholds: Thresholds = field(default_factory=Thresholds)
    secondary: list[float] | None = None  # the second stage's weights (`secondary.FEATURES`)
    sentence_weight: float = 0.0  # the sentences' part in the best issue (`read_logits`)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # float64 once: mixing float32 weights into float64 sums per message costs a copy
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.idf = np.asarray(self.idf, dtype=np.float64)
        text = self.weights[: self.vocabulary.n_columns]
        # One row per column: the idf-weighted class weights, then idf squared (the occurrence's
        # part of the norm), in float32 padded to 16: one 64-byte cache line per look-up.
        k = len(self.classes)
        self._rows = np.zeros((len(text), -(-(k + 1) // 16) * 16), dtype=np.float32)
        self._rows[:, :k] = text * self.idf[:, None]
        self._rows[:, k] = self.idf * self.idf
        self._dense_weights = np.ascontiguousarray(self.weights[self.vocabulary.n_columns :])
        self.bias = np.ascontiguousarray(self.bias, dtype=np.float64)
        self._scorer = _scoring.Scorer(
            self.vocabulary.words, self.vocabulary.buckets, self._rows, self.bias,
            self._dense_weights, self.word_weight, self.char_weight, HASH_BASE, HASH_MIX,
            tuple(HASH_SALT[n] for n in range(CHAR_MIN, CHAR_MAX + 1)), BUCKET_BITS,
        )  # fmt: skip
        # an array once, not a list converted for every message
        self.secondary_weights = (
            None if self.secondary is None else np.asarray(self.secondary, dtype=np.float64)
        )

    @property
    def word_list(self) -> list[str]:
        """The word terms by column (from column 1)."""
        words = self.vocabulary.words
        return sorted(words, key=words.__getitem__)

    # --- storage -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the model as JSON and .npy files (no pickles), byte-identical for equal models."""
        directory.mkdir(parents=True, exist_ok=True)
        for stale in ("chars.json", "char_keys.npy", "char_cols.npy", "char_idf.npy",
                      "word_idf.npy"):  # fmt: skip
            (directory / stale).unlink(missing_ok=True)  # files of the earlier format
        meta = {
            **self.meta,
            "classes": self.classes,
            "dense": list(DENSE),
            "char_range": [CHAR_MIN, CHAR_MAX],
            "bucket_bits": BUCKET_BITS,
            "word_weight": self.word_weight,
            "char_weight": self.char_weight,
            "calibration": [round(x, 6) for x in self.calibration],
            "thresholds": self.thresholds.as_dict(),
            "secondary": self.secondary,
            "sentence_weight": self.sentence_weight,
        }
        _write_json(directory / "meta.json", meta)
        _write_json(directory / "words.json", self.word_list)
        for name, value in self.arrays().items():
            with (directory / f"{name}.npy").open("wb") as out:
                np.save(out, value, allow_pickle=False)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as stored (weights as float32: 5 decimals are kept, float32 holds them)."""
        return {
            "buckets": self.vocabulary.buckets.astype(np.int32),
            "idf": self.idf.astype(np.float32),
            "weights": self.weights.astype(np.float32),
            "bias": self.bias.astype(np.float64),
        }

    @classmethod
    def load(cls, directory: Path) -> LinearModel:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        words = json.loads((directory / "words.json").read_text(encoding="utf-8"))
        arrays = {n: np.load(directory / f"{n}.npy", allow_pickle=False) for n in ARRAYS}
        return cls.from_parts(meta, words, arrays)

    @classmethod
    def from_parts(
        cls, meta: dict[str, Any], words: list[str], arrays: dict[str, Any]
    ) -> LinearModel:
        if meta.get("dense") != list(DENSE) or meta.get("bucket_bits") != BUCKET_BITS:
            raise ModelFormatError("the model was trained with other features: retrain it")
        thresholds = Thresholds(**meta["thresholds"])
        # above 1 is "never" (nothing is that sure); 0 or less would act on every reading
        cuts = (thresholds.auto_answer, thresholds.not_a_request, thresholds.secondary)
        if not all(math.isfinite(float(v)) and float(v) > 0.0 for v in cuts):
            raise ModelFormatError("the thresholds must be probabilities above 0")
        if not 0.0 <= float(thresholds.unknown) <= 1.0:
            raise ModelFormatError("the unknown threshold must be a probability")
        # a NaN weight would read every message as nothing in particular, silently
        numbers = [arrays[n] for n in ("idf", "weights", "bias")] + [meta.get("secondary") or []]
        if not all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in numbers):
            raise ModelFormatError("the model's weights must be finite numbers")
        return cls(
            classes=list(meta["classes"]),
            vocabulary=Vocabulary({w: i + 1 for i, w in enumerate(words)}, arrays["buckets"]),
            idf=arrays["idf"],
            weights=arrays["weights"],
            bias=np.asarray(arrays["bias"], dtype=np.float64),
            word_weight=float(meta["word_weight"]),
            char_weight=float(meta["char_weight"]),
            calibration=(float(meta["calibration"][0]), float(meta["calibration"][1])),
            thresholds=thresholds,
            secondary=meta.get("secondary"),
            sentence_weight=float(meta.get("sentence_weight", 0.0)),
            meta={k: v for k, v in meta.items() if k not in _META_KEYS},
        )

    # --- inference -----------------------------------------------------------------------
    def features(
        self, whole: str, spans: list[tuple[int, int]] = ()
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value) of the text blocks for the message and its spans."""
        row, col, counts = self.vocabulary.cells(whole, spans)
        values = weigh(
            len(spans) + 1, row, col, counts, self.idf, self.vocabulary.n_words,
            (self.word_weight, self.char_weight),
        )  # fmt: skip
        return row, col, values

    def score_message(
        self, whole: str, spans: list[tuple[int, int]], dense: list[list[float]]
    ) -> np.ndarray:
        """Raw scores (logits) of a message (row 0) and of its sentences, given as spans of it
        (in order, not overlapping), one column per class; `dense` holds each row's parser
        features.

        A row is its text's TF-IDF blocks (`features` with `weigh`: the training matrix) times
        the weights, plus the bias and the parser features times theirs. Every term occurrence
        of the message is looked up once and its column's idf-weighted weights (with its part of
        the norm) added to the message's sums and to those of the sentence it lies in: words
        starting in the sentence, pairs of two such words, character n-grams wholly inside it.
        The compiled kernel (`_scoring.c`) does it in one pass over the text.
        """
        out = np.empty((len(spans) + 1, len(self.classes)))
        self._scorer.score(whole, spans, dense, out)
        return out

    def contributions(self, text: str, k: int) -> dict[str, float]:
        """Each word's and word pair's part in class `k`'s score of `text`: its own term plus
        the character n-grams starting in it (or in the gap just before it)."""
        get = self.vocabulary.words.get
        found = [(m.end(), m.group()) for m in WORD.finditer(text)]
        words = [w for _, w in found]
        terms = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        parts: dict[str, float] = {}
        cols = np.array([get(t, 0) for t in terms], dtype=np.int64)
        for term, value in zip(terms, self._parts(cols, k, self.word_weight), strict=True):
            parts[term] = parts.get(term, 0.0) + value
        if words:
            chars = self.vocabulary.table[char_buckets(text)].astype(np.int64)
            starts = np.concatenate(
                [np.arange(max(0, len(text) - n + 1)) for n in range(CHAR_MIN, CHAR_MAX + 1)]
            )
            owner = np.searchsorted([end for end, _ in found], starts, side="right")
            per_word = np.bincount(
                np.minimum(owner, len(words) - 1),
                weights=self._parts(chars, k, self.char_weight),
                minlength=len(words),
            )
            for word, value in zip(words, per_word.tolist(), strict=True):
                parts[word] += value
        return parts

    def _parts(self, cols: np.ndarray, k: int, weight: float) -> list[float]:
        idf = self.idf[cols]
        norm = math.sqrt(float(idf @ idf)) or 1.0
        return (idf * self.weights[cols, k] * (weight / norm)).tolist()

    def calibrated(self, logit: float) -> float:
        a, b = self.calibration
        return 1.0 / (1.0 + math.exp(-(a * logit + b)))


def _write_json(path: Path, value: Any) -> None:
    path.write_text(
        json.dumps(value, ensure_ascii=False, indent=1, sort_keys=isinstance(value, dict)) + "\n",
        encoding="utf-8",
    )
