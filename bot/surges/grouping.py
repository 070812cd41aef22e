"""New-issue groups: the window's unsure readings clustered by similarity (scikit-learn's
agglomerative clustering, average linkage on cosine distance), kept when a cluster reaches the
minimum count.

Average linkage joins a message to a group only when it is close to the group as a whole, not
to one member of it, so a chain of loosely related everyday messages does not become a wave.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bot.surges.readings import Reading, voices
from bot.surges.textspace import TextSpace

CORE = 1.0  # a member's mean similarity to the rest, as a share of the group threshold
ONE_EXAM = 0.75  # a group is about one exam when this share of its members naming any name it


def clusters(
    readings: Sequence[Reading], space: TextSpace, *, similarity: float, min_count: int
) -> list[tuple[list[Reading], np.ndarray]]:
    """Groups of at least `min_count` readings whose average pairwise cosine similarity is at
    least `similarity`, largest first, each with its members' similarity matrix."""
    if len(readings) < min_count:
        return []
    sims = space.similarities(readings)
    distances = np.clip(1.0 - sims, 0.0, 2.0)
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - similarity,
    ).fit(distances)
    found = []
    for label in sorted(set(model.labels_.tolist())):
        members = np.flatnonzero(model.labels_ == label)
        if len(members) < min_count:
            continue
        # A member at the edge, less like the group than the group's own threshold, is left
        # out: what goes to the lead should belong.
        members = members[core(sims[np.ix_(members, members)], similarity)]
        members = members[agree([readings[i] for i in members])]
        if voices(readings[i] for i in members) >= min_count:
            found.append(([readings[i] for i in members], sims[np.ix_(members, members)]))
    found.sort(key=lambda group: (-len(group[0]), group[0][0].key))
    return found


def core(sims: np.ndarray, similarity: float) -> np.ndarray:
    """Which members are, on average, at least `similarity` (times CORE) like the others."""
    mean = (sims.sum(axis=1) - 1.0) / max(len(sims) - 1, 1)
    return np.flatnonzero(mean >= similarity * CORE)


def agree(members: Sequence[Reading]) -> np.ndarray:
    """Which members do not contradict the exam the group is about: when nearly every member
    that names an exam (ONE_EXAM) names one, a member that names only others is another problem
    that reads alike (a question about a live exam's retirement beside a wave of one beta's
    cancellations). A member naming no exam says nothing against it; a group whose members
    name a few exams (a wave at every beta) is about none."""
    naming = [r for r in members if r.exams]
    top = Counter(e for r in naming for e in dict.fromkeys(r.exams)).most_common(1)
    if not top or top[0][1] < ONE_EXAM * len(naming):
        return np.arange(len(members))
    exam = top[0][0]
    return np.array([i for i, r in enumerate(members) if not r.exams or exam in r.exams], dtype=int)


def typical(members: Sequence[Reading], sims: np.ndarray, count: int = 3) -> list[Reading]:
    """The members most like the rest of the group (highest mean similarity), oldest first on
    ties."""
    mean = sims.mean(axis=1)
    order = sorted(range(len(members)), key=lambda i: (-mean[i], members[i].at, members[i].key))
    return [members[i] for i in order[:count]]
