"""The blind corpus: frozen, well formed, and as varied as the issue asked for."""

import hashlib
from collections import Counter

from bot.matching.evaluation import load_corpus
from tests.conftest import DATA_DIR

BLIND = DATA_DIR / "blind-test.jsonl"
BLIND_TRAIN = DATA_DIR / "blind-train.jsonl"
BLIND_TRAIN_2 = DATA_DIR / "blind-train-2.jsonl"  # written later, for training only
# Written before any tuning; a change here would make every figure on it meaningless.
FROZEN_SHA256 = "cff0da7d75bdfc8e492d033219a65291fa028e2abfcf137f224ba82eddd73063"


def test_blind_split_is_frozen():
    assert hashlib.sha256(BLIND.read_bytes()).hexdigest() == FROZEN_SHA256


def test_blind_corpus_size_and_voices(knowledge):
    test, train = load_corpus([BLIND]), load_corpus([BLIND_TRAIN])
    rows = test + train
    assert len(rows) >= 400 and len(test) >= 0.4 * len(rows)
    assert {r.split for r in test} == {"blind"} and {r.split for r in train} == {"blind-train"}
    assert sum(len(r.issues or []) > 1 for r in rows) >= 60
    assert sum(not r.issues or r.issues == ["not-a-request"] for r in rows) >= 40
    labels = Counter(i for r in rows for i in (r.issues or []))
    assert set(labels) <= set(knowledge.issues)
    assert {r.voice for r in rows} >= {"agent-oneliner", "long-mail", "non-native", "multi-issue"}


def test_no_blind_text_is_in_the_training_files():
    test = {r.text for r in load_corpus([BLIND])}
    train = load_corpus([BLIND_TRAIN, BLIND_TRAIN_2, DATA_DIR / "eval-tune.jsonl"])
    assert not test & {r.text for r in train}


def test_the_second_training_set_is_training_material_only():
    rows = load_corpus([BLIND_TRAIN_2])
    assert len(rows) >= 400 and {r.split for r in rows} == {"blind-train"}
    assert len({r.text for r in rows}) == len(rows)
