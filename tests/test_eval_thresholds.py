"""Regression floors, a little below the figures measured (README, Evaluation). A failing floor
is fixed on the training data (knowledge/, eval-tune, blind-train, blind-train-2), never by
editing the frozen blind split. `triage eval` reports the figures against the issue's targets."""

from collections import Counter

import pytest

from bot.matching.evaluation import evaluate, load_corpus
from tests.conftest import DATA_DIR

HOLDOUT = DATA_DIR / "eval-holdout.jsonl"
TUNE = DATA_DIR / "eval-tune.jsonl"
BLIND = DATA_DIR / "blind-test.jsonl"


@pytest.fixture(scope="module")
def holdout_report(matcher):
    return evaluate(matcher, load_corpus([HOLDOUT]))


@pytest.fixture(scope="module")
def blind_report(matcher):
    return evaluate(matcher, load_corpus([BLIND]))


def test_holdout_top1_accuracy(holdout_report):
    assert holdout_report.top1_accuracy >= 0.95


def test_holdout_recall_of_every_issue(holdout_report):
    low = {i: f.recall for i, f in holdout_report.issues.items() if f.support and f.recall < 0.80}
    assert not low


@pytest.mark.parametrize("kind", ["exams", "providers"])
def test_holdout_entity_f1(holdout_report, kind):
    assert holdout_report.entities[kind].f1 >= 0.95


def test_blind_top1_accuracy(blind_report):
    assert blind_report.top1_accuracy >= 0.94  # measured 0.960 (target 0.93)


def test_blind_recall_of_every_issue_and_of_all_labels(blind_report):
    assert blind_report.min_recall >= 0.83  # measured 0.867 (target 0.85)
    assert blind_report.multi_issue_recall >= 0.82  # measured 0.86 (target 0.85)


@pytest.mark.parametrize("kind", ["exams", "providers"])
def test_blind_entity_f1(blind_report, kind):
    assert blind_report.entities[kind].f1 >= 0.97


def test_no_blind_request_is_dropped_as_not_a_request(blind_report):
    assert blind_report.requests_dropped == 0


def test_few_blind_messages_are_read_wrong_above_the_auto_answer_threshold(blind_report):
    assert blind_report.wrong_above_auto <= 0.013  # measured 0.009 (target 0.01)


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
