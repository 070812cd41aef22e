"""The text features surges are grouped by: the matcher's own terms (`bot.matching.features`:
normalised text, word 1-2-grams, character 3-5-grams) plus the entities a message names (exam,
provider, region, quoted error text), weighted by TF-IDF learned on the desk's recent traffic.

Hashing keeps the space open: a word the background never had (a new error code) gets the
highest idf instead of being dropped, which is exactly what a new problem brings.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize

from bot.matching.features import char_terms, flat, normalise, word_terms
from bot.privacy.masking import mask_secret
from bot.surges.readings import Reading

N_FEATURES = 2**20
# How much each view counts in the cosine similarity (each is l2-normalised first).
WORD_WEIGHT, CHAR_WEIGHT, ENTITY_WEIGHT = 1.0, 1.0, 0.6
MAX_DF = 0.02
MIN_BACKGROUND = 150
CACHE = 20_000  # vectors kept between runs
STEM, STEMMED = 5, 7  # words of at least STEMMED letters are also counted by their first STEM
_NOTHING = Reading(key=0, at=datetime(1970, 1, 1, tzinfo=UTC), text="", issue=None, confidence=0)


def _flat(reading: Reading) -> str:
    return flat(normalise(_as_written(reading)))


@functools.lru_cache(maxsize=50_000)  # the history's readings are counted again every run
def words_of(reading: Reading) -> frozenset[str]:
    """The distinct words and word pairs a reading uses (the matcher's word terms), and each
    long word cut to its first letters ("verif*"): a wave written in several languages shares
    its words' stems (verification, verificación, vérification, Verifizierung) more than the
    words themselves, and truncation is a stemmer that needs no language."""
    terms = word_terms(_flat(reading))
    stems = {f"{t[:STEM]}*" for t in terms if len(t) >= STEMMED and " " not in t}
    return frozenset(terms).union(stems)


def _as_written(reading: Reading) -> str:
    """The reading's words with its masked codes as written: an error code after the word
    "code" ("(code TR-503)") is masked like a promotion code, and the same error must read the
    same in every message of a wave. Only hashed here, never shown or kept."""
    text = reading.text
    for code in reading.codes:
        text = text.replace(mask_secret(code), code)
    return text


def entity_terms(reading: Reading) -> list[str]:
    """`exam=71-634`, `provider=vue`, `region=kenya`, `error=eligibility record not found`."""
    terms = [f"exam={e}" for e in reading.exams]
    terms += [f"provider={p}" for p in reading.providers]
    terms += [f"region={r.casefold()}" for r in reading.regions]
    terms += [f"error={' '.join(e.casefold().split())[:80]}" for e in reading.errors]
    return terms


def _hasher(analyzer: object) -> HashingVectorizer:
    return HashingVectorizer(
        analyzer=analyzer, n_features=N_FEATURES, alternate_sign=False, norm=None
    )


class TextSpace:
    """TF-IDF vectors of readings, with idf from `background` (the desk's recent readings).
    Each reading's vector is computed once: a window is read again every run."""

    def __init__(self, background: Sequence[Reading], *, max_df: float = MAX_DF) -> None:
        self.hashers = (_hasher(word_terms), _hasher(char_terms), _hasher(entity_terms))
        texts = [_flat(r) for r in background] or [""]
        inputs = (texts, texts, list(background) or [_NOTHING])
        self.idf = [
            TfidfTransformer(sublinear_tf=True).fit(h.transform(x))
            for h, x in zip(self.hashers, inputs, strict=True)
        ]
        # Terms in more than `max_df` of the background say nothing about a new problem
        # (greetings, "exam", "register"): they weigh nothing, so what a group shares is what
        # is unusual. Too little traffic to tell everyday words from others: every term counts.
        n = len(texts)
        if len(background) < MIN_BACKGROUND:
            max_df = 1.0
        for transformer in self.idf:
            idf = transformer.idf_
            df_share = ((n + 1) / np.exp(idf - 1) - 1) / n  # idf = ln((1+n)/(1+df)) + 1
            transformer.idf_ = np.where(df_share <= max_df, idf, 0.0)
        self._rows: dict[Reading, sparse.csr_matrix] = {}

    def _compute(self, readings: Sequence[Reading]) -> sparse.csr_matrix:
        texts = [_flat(r) for r in readings]
        inputs = (texts, texts, list(readings))
        views = [
            normalize(t.transform(h.transform(x))) * weight
            for h, t, x, weight in zip(
                self.hashers,
                self.idf,
                inputs,
                (WORD_WEIGHT, CHAR_WEIGHT, ENTITY_WEIGHT),
                strict=True,
            )
        ]
        return normalize(sparse.hstack(views).tocsr())

    def vectors(self, readings: Sequence[Reading]) -> sparse.csr_matrix:
        """One l2-normalised row per reading."""
        missing = [r for r in dict.fromkeys(readings) if r not in self._rows]
        if missing:
            rows = self._compute(missing)
            for i, reading in enumerate(missing):
                self._rows[reading] = rows[i]
        if len(self._rows) > CACHE:
            self._rows = {r: self._rows[r] for r in readings}
        return sparse.vstack([self._rows[r] for r in readings]).tocsr()

    def similarities(self, readings: Sequence[Reading]) -> np.ndarray:
        """The cosine similarity of every pair (dense: a window holds tens to hundreds)."""
        x = self.vectors(readings)
        return np.asarray((x @ x.T).todense())
