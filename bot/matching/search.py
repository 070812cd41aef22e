"""Searching the knowledge base by words: which known issue is the agent thinking of?"""

from typing import Any

from rapidfuzz import fuzz, process, utils

from bot.matching.knowledge import KnowledgeBase

MIN_SCORE = 60.0


def _score(query: str, choice: str, **_: object) -> float:
    # all the query's words in a phrasing count most; word order and extra words break ties
    return 0.8 * fuzz.token_set_ratio(query, choice) + 0.2 * fuzz.token_sort_ratio(query, choice)


def search_issues(kb: KnowledgeBase, query: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """Known issues whose id, title or an example phrasing resembles `query`, best first.

    Each hit: `id`, `title`, `score` (0-100) and the closest `example`.
    """
    query = utils.default_process(query)
    if not query:
        return []
    hits: list[dict[str, Any]] = []
    for issue in kb.issues.values():
        choices = [issue.id.replace("-", " "), issue.title, *issue.examples]
        best = process.extractOne(query, choices, scorer=_score, processor=utils.default_process)
        if best is None or best[1] < MIN_SCORE:
            continue
        _, score, index = best
        example = choices[index] if index >= 2 else None
        hits.append({"id": issue.id, "title": issue.title, "score": score, "example": example})
    hits.sort(key=lambda hit: (-hit["score"], hit["id"]))
    return hits[:limit]
