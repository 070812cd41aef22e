"""The compiled scoring kernel gives what the training matrix gives, on any text and sentences,
and refuses what it cannot score with a clear error instead of a crash."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import _scoring, secondary
from bot.matching.features import BUCKET_BITS, DENSE, HASH_BASE, HASH_MIX, HASH_SALT
from bot.matching.matcher import combined, shipped_model
from bot.matching.model import SHIPPED_DIR, LinearModel, Vocabulary


def _expected(model: LinearModel, whole: str, spans, features) -> np.ndarray:
    """The training path: the TF-IDF rows `LinearModel.features` builds, times the weights."""
    row, col, values = model.features(whole, spans)
    expected = np.tile(model.bias, (len(spans) + 1, 1))
    np.add.at(expected, row, values[:, None] * model.weights[col])
    expected += np.array(features) @ model.weights[-len(DENSE) :]
    return expected


_MODEL = None


def _model() -> LinearModel:
    global _MODEL
    _MODEL = _MODEL or shipped_model()
    return _MODEL


# Vocabulary words and pairs, beside words it has never seen, in any script (`\w` is Unicode):
# single characters (no word, but the words around them still make a pair), the underscore,
# digits, letters outside the BMP, combining marks.
PIECES = st.one_of(
    st.sampled_from(["voucher", "beta", "exam", "never", "came", "exambeta", "prometric",
                     "registration", "error", "program", "occurred", "results", "0", "i", "a"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", " ", ", ", ". ", "_", "-", "'", "\u00e9", "\U0001d400", "?"])


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"  # what `re` calls `\w`


@st.composite
def messages(draw):
    pieces = draw(st.lists(PIECES, max_size=30))
    seps = draw(st.lists(SEPARATORS, min_size=len(pieces), max_size=len(pieces)))
    whole = "".join(p + s for p, s in zip(pieces, seps, strict=True))
    # sentences never cut a word (`segments` finds them between words)
    cuts = sorted(
        p for p in draw(st.lists(st.integers(0, len(whole)), max_size=8))
        if not (0 < p < len(whole) and _word_char(whole[p - 1]) and _word_char(whole[p]))
    )  # fmt: skip
    spans = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False)]
    features = [
        draw(st.lists(st.sampled_from([0.0, 0.5]), min_size=len(DENSE), max_size=len(DENSE)))
        for _ in range(len(spans) + 1)
    ]
    return whole, spans, features


@settings(max_examples=400, deadline=None)
@given(messages())
def test_the_kernel_scores_any_text_as_the_training_matrix_does(message):
    whole, spans, features = message
    model = _model()
    got = model.score_message(whole, spans, features)
    # the rows are float32 (idf times weight, rounded once); the sums are double
    assert np.abs(got - _expected(model, whole, spans, features)).max() < 1e-5


def test_a_pair_whose_words_only_pairs_hold_is_still_found():
    texts = ["alpha beta gamma", "beta delta", "epsilon zeta"]
    vocabulary = Vocabulary.fit(texts)
    for word in ("alpha", "gamma", "zeta"):  # keep their pairs: "alpha beta", ...
        del vocabulary.words[word]
    vocabulary = Vocabulary({w: i + 1 for i, w in enumerate(vocabulary.words)}, vocabulary.buckets)
    rng = np.random.default_rng(7)
    columns = vocabulary.n_columns + len(DENSE)
    model = LinearModel(
        classes=["one", "two", "three"],
        vocabulary=vocabulary,
        idf=np.r_[0.0, rng.uniform(1, 3, vocabulary.n_columns - 1)],
        weights=rng.normal(size=(columns, 3)).astype(np.float32),
        bias=rng.normal(size=3),
        word_weight=1.3,
        char_weight=0.7,
    )
    whole = "alpha beta gamma, beta delta? epsilon zeta theta"
    spans = [(0, 16), (18, 29)]
    features = [[0.5] * len(DENSE)] * 3
    got = model.score_message(whole, spans, features)
    assert np.abs(got - _expected(model, whole, spans, features)).max() < 1e-5
    assert "alpha beta" in vocabulary.words and "alpha" not in vocabulary.words


@pytest.mark.parametrize(
    ("spans", "rows", "error"),
    [
        ([(5, 9), (0, 4)], 3, "in order"),
        ([(0, 99)], 2, "inside the text"),
        ([(4, 2)], 2, "in order"),
        ([(0, 4)], 1, "one row per span"),
        ([("a", 4)], 2, "integer"),
        ([(0, 4, 5)], 2, "span"),
    ],
)
def test_spans_the_kernel_cannot_score_are_a_clear_error(spans, rows, error):
    features = [[0.0] * len(DENSE)] * rows
    with pytest.raises((ValueError, TypeError), match=error):
        _model().score_message("my voucher never came", spans, features)


def test_a_feature_row_of_the_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match="wrong length"):
        _model().score_message("my voucher never came", [], [[0.0] * 3])


def test_a_scorer_that_was_never_set_up_refuses_to_score():
    scorer = _scoring.Scorer.__new__(_scoring.Scorer)
    with pytest.raises(RuntimeError, match="not initialised"):
        scorer.score("my voucher never came", [], [[0.0] * len(DENSE)], np.empty((1, 14)))


def test_a_scorer_is_set_up_once():
    model = _model()
    with pytest.raises(RuntimeError, match="once"):
        model._scorer.__init__(
            {}, np.zeros(1 << 20, np.int32), np.zeros((1, 16), np.float32), np.zeros(2),
            np.zeros((len(DENSE), 2)), 1.0, 1.0, 3, 5, (1, 2, 3), 20,
        )  # fmt: skip


def test_a_read_only_output_is_refused():
    out = np.empty((1, 14))
    out.flags.writeable = False
    with pytest.raises((BufferError, ValueError, TypeError)):
        _model()._scorer.score("my voucher never came", [], [[0.0] * len(DENSE)], out)


def test_spans_as_lists_score_as_tuples():
    """Spans read back from JSON are lists."""
    features = [[0.0] * len(DENSE)] * 2
    text = "my voucher never came. can i use it?"
    as_lists = _model().score_message(text, [[0, 22]], features)
    assert (as_lists == _model().score_message(text, [(0, 22)], features)).all()


def test_buckets_changed_after_set_up_change_nothing():
    """The scorer keeps its own bitmap of the buckets: the array it was made from is not read
    again."""
    model = LinearModel.load(SHIPPED_DIR)  # its own arrays: the shared model stays intact
    before = model.score_message("my voucher never came", [], [[0.0] * len(DENSE)])
    model.vocabulary.buckets[:] = 0
    after = model.score_message("my voucher never came", [], [[0.0] * len(DENSE)])
    assert (before == after).all()


def _scorer_with(buckets: np.ndarray) -> _scoring.Scorer:
    model = _model()
    return _scoring.Scorer(
        model.vocabulary.words, buckets, model._rows, model.bias, model._dense_weights,
        model.word_weight, model.char_weight, HASH_BASE, HASH_MIX, tuple(HASH_SALT.values()),
        BUCKET_BITS,
    )  # fmt: skip


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b[::-1].copy(), "sorted"),  # not in bucket order
        (lambda b: np.concatenate([b[:1], b]), "sorted"),  # one bucket twice
        (lambda b: np.concatenate([b, [1 << BUCKET_BITS]]), "sorted"),  # past the last bucket
        (lambda b: np.concatenate([[-1], b]), "sorted"),
        (lambda b: np.arange(len(b) + 30_000), "more buckets"),  # more than the rows hold
    ],
)
def test_buckets_that_do_not_fit_the_model_are_refused_at_set_up(change, message):
    with pytest.raises(ValueError, match=message):
        _scorer_with(change(_model().vocabulary.buckets))


def _second_stage(weights, logits: np.ndarray, top: int) -> np.ndarray:
    """The second stage as `secondary.features` defines it (what training fits on)."""
    z = secondary.features(logits, top) @ np.asarray(weights, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda rows: st.lists(
            st.lists(st.sampled_from([-40.0, -3.5, -1.0, 0.0, 0.25, 2.0, 9.0]) | st.floats(-60, 60),
                     min_size=14, max_size=14),
            min_size=rows, max_size=rows,
        )
    ),
    st.integers(0, 13),
)  # fmt: skip
def test_the_second_stage_in_the_kernel_is_the_features_the_training_fits(rows, top):
    """Ties included (the runner-up of a stable sort, a sentence's best shared by two)."""
    logits = np.array(rows)
    weights = _model().secondary_weights
    assert np.allclose(
        secondary.probabilities(weights, logits, top), _second_stage(weights, logits, top),
        rtol=0, atol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize(
    "logits, top, weights, out",
    [
        (np.zeros((0, 14)), 0, np.zeros(7), np.empty(14)),  # no row
        (np.zeros((2, 14)), 14, np.zeros(7), np.empty(14)),  # no such class
        (np.zeros((2, 14)), -1, np.zeros(7), np.empty(14)),
        (np.zeros((2, 14)), 0, np.zeros(6), np.empty(14)),  # weights of another stage
        (np.zeros((2, 14)), 0, np.zeros(7), np.empty(13)),  # out of the wrong size
        (np.array([[0.0] * 13 + [np.nan]] * 2), 0, np.zeros(7), np.empty(14)),  # not finite
        (np.array([[-np.inf] * 14] * 2), 0, np.zeros(7), np.empty(14)),
    ],
)
def test_second_stage_arguments_it_cannot_read_are_a_clear_error(logits, top, weights, out):
    with pytest.raises(ValueError):
        _scoring.probabilities(logits, top, weights, out)


def test_a_second_stage_output_over_its_own_input_is_refused():
    """The probabilities are written while the logits are read."""
    logits = np.array([[3.0, 1.0, 2.0] + [0.0] * 11, [0.5, 4.0, 1.0] + [0.0] * 11])
    with pytest.raises(ValueError, match="overlap"):
        _scoring.probabilities(logits, 0, _model().secondary_weights, logits[0])


def _combined(logits: np.ndarray, weight: float) -> np.ndarray:
    """The definition: the whole message's scores averaged with its sentences' best."""
    if weight and len(logits) > 1:
        return (logits[0] + weight * logits[1:].max(axis=0)) / (1.0 + weight)
    return logits[0]


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda rows: st.lists(
            st.lists(st.floats(-1e6, 1e6), min_size=14, max_size=14), min_size=rows,
            max_size=rows,
        )
    ),
    st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 3.0]),
)  # fmt: skip
def test_the_best_issue_scores_are_the_numpy_definition_exactly(rows, weight):
    logits = np.array(rows)
    assert combined(logits, weight) == _combined(logits, weight).tolist()


def test_best_issue_scores_need_a_row():
    with pytest.raises(ValueError):
        _scoring.combined(np.zeros((0, 14)), 0.25)
