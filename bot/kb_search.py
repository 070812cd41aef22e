"""Searching the knowledge base by words: which known issue is the agent thinking of?"""

from typing import Any

from rapidfuzz import fuzz, process

from bot.knowledge import KnowledgeBase

MIN_SCORE = 50.0


def search_issues(kb: KnowledgeBase, query: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """Known issues whose id, title or an example phrasing resembles `query`, best first.

    Each hit: `id`, `title`, `score` (0-100) and the closest `example`.
    """
    query = query.strip().lower()
    if not query:
        return []
    hits: list[dict[str, Any]] = []
    for issue in kb.issues.values():
        choices = [issue.id.replace("-", " "), issue.title, *issue.examples]
        best = process.extractOne(
            query, choices, scorer=fuzz.WRatio, processor=lambda s: str(s).lower()
        )
        if best is None or best[1] < MIN_SCORE:
            continue
        _, score, index = best
        example = choices[index] if index >= 2 else None
        hits.append({"id": issue.id, "title": issue.title, "score": score, "example": example})
    hits.sort(key=lambda hit: (-hit["score"], hit["id"]))
    return hits[:limit]
