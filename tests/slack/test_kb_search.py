"""`/triage kb`'s search: an agent's few words find the known issue they mean."""

from pathlib import Path

import pytest

from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.search import search_issues

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(ROOT / "knowledge")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cannot register retake", "retake-registration-blocked"),
        ("voucher never arrived", "voucher-missing"),
        ("Program Error", "registration-program-error"),
        ("invitation email missing", "invitation-not-received"),
        ("country excluded", "region-restricted"),
        ("someone registered me", "unexpected-registration"),
        ("transcript certification", "transcript-missing-certification"),
        ("voucher other exam", "voucher-scope"),
    ],
)
def test_words_find_the_issue(kb: KnowledgeBase, query: str, expected: str) -> None:
    assert search_issues(kb, query)[0]["id"] == expected


@pytest.mark.parametrize("query", ["", "   ", "zzzz qqqq", "!!!"])
def test_nonsense_finds_nothing(kb: KnowledgeBase, query: str) -> None:
    assert search_issues(kb, query) == []
