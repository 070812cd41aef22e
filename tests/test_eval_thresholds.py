"""The held-out corpus must meet the accuracy bar; the corpus itself must stay well formed."""

from collections import Counter

import pytest

from bot.matching.evaluation import evaluate, load_corpus
from tests.conftest import DATA_DIR

HOLDOUT = DATA_DIR / "eval-holdout.jsonl"
TUNE = DATA_DIR / "eval-tune.jsonl"


@pytest.fixture(scope="module")
def holdout_report(matcher):
    return evaluate(matcher, load_corpus([HOLDOUT]))


def test_holdout_top1_accuracy(holdout_report):
    assert holdout_report.top1_accuracy >= 0.90


def test_holdout_recall_of_every_issue(holdout_report):
    low = {i: f.recall for i, f in holdout_report.issues.items() if f.support and f.recall < 0.80}
    assert not low


@pytest.mark.parametrize("kind", ["exams", "providers"])
def test_holdout_entity_f1(holdout_report, kind):
    assert holdout_report.entities[kind].f1 >= 0.95


def test_corpus_size_split_and_coverage(knowledge):
    rows = load_corpus([TUNE, HOLDOUT])
    assert len(rows) >= 250
    holdout = [r for r in rows if r.split == "holdout"]
    assert len(holdout) >= 0.3 * len(rows)
    assert all(r.split == "holdout" for r in load_corpus([HOLDOUT]))
    per_issue = Counter(i for r in rows for i in (r.issues or []))
    assert set(per_issue) == set(knowledge.issues)
    assert min(per_issue.values()) >= 12
    assert {r.channel for r in rows} == {"email", "slack"}
