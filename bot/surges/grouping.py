"""New-issue groups: the window's unsure readings clustered by similarity (scikit-learn's
agglomerative clustering, average linkage on cosine distance), kept when a cluster reaches the
minimum count.

Average linkage joins a message to a group only when it is close to the group as a whole, not
to one member of it, so a chain of loosely related everyday messages does not become a wave.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bot.surges.readings import Reading, voices
from bot.surges.textspace import TextSpace

CORE = 1.0  # a member's mean similarity to the rest, as a share of the group threshold


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
        if voices(readings[i] for i in members) >= min_count:
            found.append(([readings[i] for i in members], sims[np.ix_(members, members)]))
    found.sort(key=lambda group: (-len(group[0]), group[0][0].key))
    return found


def core(sims: np.ndarray, similarity: float) -> np.ndarray:
    """Which members are, on average, at least `similarity` (times CORE) like the others."""
    mean = (sims.sum(axis=1) - 1.0) / max(len(sims) - 1, 1)
    return np.flatnonzero(mean >= similarity * CORE)


def typical(members: Sequence[Reading], sims: np.ndarray, count: int = 3) -> list[Reading]:
    """The members most like the rest of the group (highest mean similarity), oldest first on
    ties."""
    mean = sims.mean(axis=1)
    order = sorted(range(len(members)), key=lambda i: (-mean[i], members[i].at, members[i].key))
    return [members[i] for i in order[:count]]
