"""The learned model at inference: plain arrays and JSON, read with numpy, never a pickle.

The vectoriser is scikit-learn's TF-IDF (sublinear tf, smooth idf, l2 norm per block) replayed
with the fitted vocabularies and idf weights: word 1-2-grams by dictionary look-up, character
3-5-grams by hashing code points with numpy and a binary search in the sorted keys. One pass
scores the whole message and each of its sentences at once (one row each), so a second issue can
be read from a sentence of its own.

Files of a model directory: `meta.json` (classes, block weights, calibration, thresholds,
training figures), `words.json` and `chars.json` (the vocabularies, by column), and the arrays
`word_idf.npy`, `char_idf.npy`, `char_keys.npy`, `char_cols.npy`, `weights.npy`, `bias.npy`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.matching.features import (
    CHAR_MAX,
    CHAR_MIN,
    DENSE,
    HASH_BASE,
    HASH_LENGTH,
    char_hash,
    word_terms,
)

UNKNOWN = "(unknown)"  # the class of out-of-catalogue messages
SHIPPED_DIR = Path(__file__).resolve().parent / "model"
ARRAYS = ("word_idf", "char_idf", "char_keys", "char_cols", "weights", "bias")
_BASE = np.uint64(HASH_BASE)


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
class LinearModel:
    classes: list[str]
    words: dict[str, int]
    chars: list[str]
    word_idf: np.ndarray
    char_idf: np.ndarray
    char_keys: np.ndarray  # sorted uint64 hashes of `chars`
    char_cols: np.ndarray  # the column of each key
    weights: np.ndarray  # (features, classes): words, then chars, then DENSE
    bias: np.ndarray
    word_weight: float = 1.0
    char_weight: float = 1.0
    calibration: tuple[float, float] = (1.0, 0.0)  # Platt: sigmoid(a * logit + b)
    thresholds: Thresholds = field(default_factory=Thresholds)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # float64 once: mixing float32 weights into float64 sums per message costs a copy
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self._dense_weights = np.ascontiguousarray(self.weights[-len(DENSE) :])

    @property
    def word_list(self) -> list[str]:
        """The word terms by column."""
        if not hasattr(self, "_word_list"):
            self._word_list = sorted(self.words, key=self.words.__getitem__)
        return self._word_list

    @property
    def n_words(self) -> int:
        return len(self.word_idf)

    # --- storage -------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the model as JSON and .npy files (no pickles), byte-identical for equal models."""
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            **self.meta,
            "classes": self.classes,
            "dense": list(DENSE),
            "char_range": [CHAR_MIN, CHAR_MAX],
            "word_weight": self.word_weight,
            "char_weight": self.char_weight,
            "calibration": [round(x, 6) for x in self.calibration],
            "thresholds": self.thresholds.as_dict(),
        }
        _write_json(directory / "meta.json", meta)
        _write_json(directory / "words.json", self.word_list)
        _write_json(directory / "chars.json", self.chars)
        for name in ARRAYS:
            value = getattr(self, name)
            if name == "weights":
                value = value.astype(np.float32)  # 5 decimals are kept: float32 holds them
            with (directory / f"{name}.npy").open("wb") as out:
                np.save(out, value, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> LinearModel:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        words = json.loads((directory / "words.json").read_text(encoding="utf-8"))
        chars = json.loads((directory / "chars.json").read_text(encoding="utf-8"))
        arrays = {n: np.load(directory / f"{n}.npy", allow_pickle=False) for n in ARRAYS}
        return cls.from_parts(meta, words, chars, arrays)

    @classmethod
    def from_parts(
        cls, meta: dict[str, Any], words: list[str], chars: list[str], arrays: dict[str, Any]
    ) -> LinearModel:
        if meta.get("dense") != list(DENSE):
            raise ValueError("the model was trained with other parser features: retrain it")
        rest = {
            k: v
            for k, v in meta.items()
            if k
            not in {"classes", "dense", "char_range", "word_weight", "char_weight",
                    "calibration", "thresholds"}
        }  # fmt: skip
        return cls(
            classes=list(meta["classes"]),
            words={w: i for i, w in enumerate(words)},
            chars=list(chars),
            word_weight=float(meta["word_weight"]),
            char_weight=float(meta["char_weight"]),
            calibration=(float(meta["calibration"][0]), float(meta["calibration"][1])),
            thresholds=Thresholds(**meta["thresholds"]),
            meta=rest,
            **{n: np.asarray(arrays[n]) for n in ARRAYS},
        )

    # --- inference -----------------------------------------------------------------------
    def scores(self, texts: list[str], dense: list[list[float]]) -> np.ndarray:
        """Raw scores (logits), one row per flat text, one column per class."""
        return self._score(texts, self._char_matrix(texts), dense)

    def score_message(
        self, whole: str, spans: list[tuple[int, int]], dense: list[list[float]]
    ) -> np.ndarray:
        """The scores of a message (row 0) and of its sentences, given as spans of it: the
        character n-grams are hashed and looked up once, for the whole message."""
        texts = [whole, *(whole[a:b] for a, b in spans)]
        return self._score(texts, self._char_matrix_spans(whole, spans), dense)

    def _score(
        self,
        texts: list[str],
        chars: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        dense: list[list[float]],
    ) -> np.ndarray:
        out = np.empty((len(texts), len(self.classes)))
        out[:] = self.bias
        for block, offset in ((self._word_matrix(texts), 0), (chars, self.n_words)):
            if block is not None:
                row, col, values = block
                contrib = self.weights[offset + col] * values[:, None]
                # Cells come sorted by row: one reduceat sums each row's contributions.
                starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
                out[row[starts]] += np.add.reduceat(contrib, starts, axis=0)
        out += np.asarray(dense, dtype=np.float64) @ self._dense_weights
        return out

    def _char_matrix_spans(
        self, whole: str, spans: list[tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        codes = np.frombuffer(whole.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        if len(codes) < CHAR_MIN:
            return None
        keys, starts, ends = [], [], []
        h = codes[: len(codes) - CHAR_MIN + 1].copy()
        for k in range(1, CHAR_MIN):
            h = h * _BASE + codes[k : k + len(h)]
        for n in range(CHAR_MIN, CHAR_MAX + 1):
            if n > CHAR_MIN:
                h = h[:-1] * _BASE + codes[n - 1 : n - 1 + len(h) - 1]
            if not len(h):
                break
            keys.append(h + np.uint64((n * HASH_LENGTH) & ((1 << 64) - 1)))
            starts.append(np.arange(len(h)))
            ends.append(starts[-1] + n)
        key = np.concatenate(keys)
        distinct, inverse = np.unique(key, return_inverse=True)
        pos = np.searchsorted(self.char_keys, distinct)
        pos[pos == len(self.char_keys)] = 0
        known = self.char_keys[pos] == distinct
        hit = known[inverse]
        if not hit.any():
            return None
        cols = self.char_cols[pos][inverse][hit]
        n_chars = len(self.char_idf)
        cells = [cols]
        if spans:
            start = np.concatenate(starts)[hit]
            end = np.concatenate(ends)[hit]
            first = np.array([a for a, _ in spans])
            last = np.array([b for _, b in spans])
            unit = np.searchsorted(first, start, side="right") - 1
            inside = (unit >= 0) & (end <= last[np.maximum(unit, 0)])
            cells.append((unit[inside] + 1) * n_chars + cols[inside])
        cell, counts = np.unique(np.concatenate(cells), return_counts=True)
        return self._block(
            len(spans) + 1, cell // n_chars, cell % n_chars, counts.astype(np.float64),
            self.char_idf, self.char_weight,
        )  # fmt: skip

    def calibrated(self, logit: float) -> float:
        a, b = self.calibration
        return 1.0 / (1.0 + math.exp(-(a * logit + b)))

    def _word_matrix(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        get = self.words.get
        cells: dict[tuple[int, int], int] = {}
        for r, text in enumerate(texts):
            for term in word_terms(text):
                col = get(term)
                if col is not None:
                    cells[(r, col)] = cells.get((r, col), 0) + 1
        if not cells:
            return None
        keys = np.array(list(cells), dtype=np.int64)
        counts = np.fromiter(cells.values(), dtype=np.float64, count=len(cells))
        return self._block(
            len(texts), keys[:, 0], keys[:, 1], counts, self.word_idf, self.word_weight
        )

    def _char_matrix(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        joined = "\x00".join(texts)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        if len(codes) < CHAR_MIN:
            return None
        seg = np.cumsum(codes == 0)
        keys, starts = [], []
        h = codes[: len(codes) - CHAR_MIN + 1].copy()
        for k in range(1, CHAR_MIN):
            h = h * _BASE + codes[k : k + len(h)]
        for n in range(CHAR_MIN, CHAR_MAX + 1):
            if n > CHAR_MIN:
                h = h[:-1] * _BASE + codes[n - 1 : n - 1 + len(h) - 1]
            if not len(h):
                break
            idx = np.arange(len(h))
            ok = (seg[idx] == seg[idx + n - 1]) & (codes[: len(h)] != 0)
            keys.append(h[ok] + np.uint64((n * HASH_LENGTH) & ((1 << 64) - 1)))
            starts.append(idx[ok])
        if not keys:
            return None
        key = np.concatenate(keys)
        start = np.concatenate(starts)
        # Distinct keys, sorted: the binary search then walks the vocabulary in order.
        distinct, inverse = np.unique(key, return_inverse=True)
        pos = np.searchsorted(self.char_keys, distinct)
        pos[pos == len(self.char_keys)] = 0
        known = self.char_keys[pos] == distinct
        hit = known[inverse]
        if not hit.any():
            return None
        cols = self.char_cols[pos][inverse][hit]
        n_chars = len(self.char_idf)
        cell = seg[start[hit]].astype(np.int64) * n_chars + cols
        cells, counts = np.unique(cell, return_counts=True)
        return self._block(
            len(texts), cells // n_chars, cells % n_chars, counts.astype(np.float64),
            self.char_idf, self.char_weight,
        )  # fmt: skip

    @staticmethod
    def _block(
        rows: int,
        row: np.ndarray,
        col: np.ndarray,
        counts: np.ndarray,
        idf: np.ndarray,
        weight: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value) of a TF-IDF block, l2-normalised per row."""
        values = (1.0 + np.log(counts)) * idf[col]
        norms = np.sqrt(np.bincount(row, weights=values * values, minlength=rows))
        values *= weight / norms[row]
        return row, col, values


def hash_terms(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted hash keys of character n-grams and the column of each."""
    keys = np.array([char_hash(t) for t in terms], dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    if len(keys) > 1 and (np.diff(keys[order]) == 0).any():
        raise ValueError("two character n-grams share a hash key")
    return keys[order], order.astype(np.int64)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(
        json.dumps(value, ensure_ascii=False, indent=1, sort_keys=isinstance(value, dict)) + "\n",
        encoding="utf-8",
    )
