"""Calibration and thresholds, chosen on out-of-fold scores of the training data only.

`bot.matching.training` scores every training message with a model that never saw it; here
those scores give: Platt scaling of the best score (the confidence), the unknown cut-off (best
top-1), the second stage that reads further issues (`bot.matching.secondary`, fitted and its
threshold chosen by an inner cross-validation over the messages), the auto-answer threshold (at
least 98% right above it) and the not-a-request threshold (above every request read as one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from bot.matching import secondary
from bot.matching.evaluation import LabelledMessage
from bot.matching.matcher import combined, read_logits
from bot.matching.model import UNKNOWN, LinearModel, Thresholds
from bot.types import NOT_A_REQUEST

SEED = 20260
AUTO_PRECISION = 0.98
AUTO_MIN_SUPPORT = 20  # an auto-answer threshold needs this many out-of-fold readings above it
INNER_FOLDS = 5
SENTENCE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
CUTS = [round(float(c), 2) for c in np.arange(0.05, 0.96, 0.05)]
Reading = tuple[str | None, float, list[str]]


def _top1(issue: str | None, labels: list[str] | None) -> bool:
    return issue in labels if labels else issue is None


def _platt(tops: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    if correct.all() or not correct.any():
        return 1.0, 0.0
    platt = LogisticRegression(C=1e4, solver="lbfgs").fit(tops.reshape(-1, 1), correct)
    return round(float(platt.coef_[0, 0]), 6), round(float(platt.intercept_[0]), 6)


def _f1(reported: Sequence[set[str]], labels: Sequence[list[str]]) -> tuple[float, float]:
    """(F1 of every reported issue against the labels, share of multi-issue messages with
    every label reported)."""
    tp = fp = fn = multi = found = 0
    for got, lab in zip(reported, labels, strict=True):
        want = set(lab)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        if len(want) > 1:
            multi += 1
            found += want <= got
    return (2 * tp / (2 * tp + fp + fn) if tp else 0.0), (found / multi if multi else 1.0)


def _second_stage(
    classes: list[str],
    logits: Sequence[np.ndarray],
    readings: Sequence[Reading],
    labels: Sequence[list[str]],
) -> tuple[list[float], float, dict[str, float]]:
    """Second-stage weights and threshold: out-of-fold over the messages, the cut with the best
    issue F1 (the lowest on ties), then refitted on every message."""
    rows: list[tuple[int, list[int], np.ndarray]] = []
    for m, (z, (issue, _c, _s)) in enumerate(zip(logits, readings, strict=True)):
        if issue is not None and issue != NOT_A_REQUEST:
            keep, x = secondary.candidates(
                classes, z, classes.index(issue), {UNKNOWN, NOT_A_REQUEST}
            )
            rows.append((m, keep, x))
    fold = np.random.default_rng(SEED).permutation(len(logits)) % INNER_FOLDS

    def xy(subset: Sequence[tuple[int, list[int], np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        x = np.vstack([x for _, _, x in subset])
        y = np.array([classes[k] in labels[m] for m, keep, _ in subset for k in keep])
        return x, y

    probs: dict[int, list[tuple[str, float]]] = {}
    for f in range(INNER_FOLDS):
        weights = secondary.fit(*xy([r for r in rows if fold[r[0]] != f]), seed=SEED)
        for m, keep, x in (r for r in rows if fold[r[0]] == f):
            z = 1.0 / (1.0 + np.exp(-(x @ np.array(weights))))
            probs[m] = [(classes[k], float(p)) for k, p in zip(keep, z, strict=True)]
    best_cut, best = 0.5, (-1.0, 0.0)
    for cut in CUTS:
        reported = [
            ({r[0]} if r[0] else set()) | {c for c, p in probs.get(m, []) if p >= cut}
            for m, r in enumerate(readings)
        ]
        score = _f1(reported, labels)
        if score[0] > best[0] + 1e-9:
            best_cut, best = cut, score
    weights = secondary.fit(*xy(rows), seed=SEED)
    return weights, best_cut, {"issue_f1": round(best[0], 4), "multi_recall": round(best[1], 4)}


def choose(
    model: LinearModel, rows: Sequence[LabelledMessage], oof: Sequence[np.ndarray | None]
) -> tuple[tuple[float, float], Thresholds, list[float] | None, float, dict[str, object]]:
    """Calibration, thresholds and second-stage weights from out-of-fold logits, with the
    out-of-fold figures."""
    held = [(r, z) for r, z in zip(rows, oof, strict=True) if z is not None]
    logits = [z for _, z in held]
    labels = [r.issues or [] for r, _ in held]
    classes = model.classes
    first = Thresholds(unknown=0.0, secondary=1.0)
    # The sentences' part in the best issue: the best out-of-fold top-1 (the least on ties).
    sentence_weight, best_acc = 0.0, -1.0
    for weight in SENTENCE_WEIGHTS:
        acc = float(
            np.mean(
                [
                    _top1(read_logits(classes, z, first, (1.0, 0.0), None, weight)[0], lab or None)
                    for z, lab in zip(logits, labels, strict=True)
                ]
            )
        )
        if acc > best_acc + 1e-9:
            sentence_weight, best_acc = weight, acc
    plain = [read_logits(classes, z, first, (1.0, 0.0), None, sentence_weight) for z in logits]
    tops = np.array([max(combined(z, sentence_weight)) for z in logits])
    correct = np.array([_top1(i, lab or None) for (i, _c, _s), lab in
                        zip(plain, labels, strict=True)])  # fmt: skip
    calibration = _platt(tops, correct)
    conf = 1.0 / (1.0 + np.exp(-(calibration[0] * tops + calibration[1])))

    def run(t: Thresholds, weights: list[float] | None = None) -> list[Reading]:
        return [
            (i, c, [s for s, _ in scores])
            for i, c, scores in (read_logits(classes, z, t, calibration, weights, sentence_weight)
                                 for z in logits)
        ]  # fmt: skip

    # Unknown cut-off: the best out-of-fold top-1 (lowest cut-off on ties).
    best_unknown, best_acc = 0.0, -1.0
    for cut in [0.0, *sorted(set(np.round(conf, 3)))]:
        readings = run(Thresholds(unknown=float(cut), secondary=1.0))
        acc = float(np.mean([_top1(i, lab or None) for (i, _c, _s), lab in
                             zip(readings, labels, strict=True)]))  # fmt: skip
        if acc > best_acc + 1e-9:
            best_unknown, best_acc = float(cut), acc
    primary = run(Thresholds(unknown=best_unknown, secondary=1.0))
    # Further issues: the first stage's own rule at its best cut, against the second stage.
    rule_cut, rule = 0.5, (-1.0, 0.0)
    for cut in CUTS:
        reported = [set(s) for _i, _c, s in run(Thresholds(unknown=best_unknown, secondary=cut))]
        score = _f1(reported, labels)
        if score[0] > rule[0] + 1e-9:
            rule_cut, rule = cut, score
    weights, stage_cut, stage = _second_stage(classes, logits, primary, labels)
    use_stage = stage["issue_f1"] > rule[0]
    best_secondary = stage_cut if use_stage else rule_cut
    final = run(Thresholds(unknown=best_unknown, secondary=best_secondary),
                weights if use_stage else None)  # fmt: skip
    # Auto-answer: the lowest confidence above which catalogue readings are right >= 98%.
    answered = sorted(
        ((c, _top1(i, lab or None)) for (i, c, _s), lab in zip(final, labels, strict=True)
         if i not in (None, NOT_A_REQUEST)),
        reverse=True,
    )  # fmt: skip
    auto, hits = 1.0, 0
    for n, (c, ok) in enumerate(answered, 1):
        hits += ok
        if n >= AUTO_MIN_SUPPORT and hits / n >= AUTO_PRECISION:
            auto = c
    # Not-a-request: above every request that was read as one.
    dropped = [c for (i, c, _s), lab in zip(final, labels, strict=True)
               if i == NOT_A_REQUEST and lab != [NOT_A_REQUEST]]  # fmt: skip
    nar = min(1.0, max(dropped, default=0.5) + 0.001)
    thresholds = Thresholds(
        auto_answer=round(float(auto), 4), not_a_request=round(float(nar), 4),
        unknown=round(best_unknown, 4), secondary=best_secondary,
    )  # fmt: skip
    above = [ok for c, ok in answered if c >= thresholds.auto_answer]
    figures = {
        "out_of_fold_rows": len(held),
        "out_of_fold_top1": round(best_acc, 4),
        "out_of_fold_issue_f1": round(stage["issue_f1"] if use_stage else rule[0], 4),
        "out_of_fold_multi_issue_recall": round(stage["multi_recall"] if use_stage else rule[1], 4),
        "further_issues": "second stage" if use_stage else "sentence rule",
        "sentence_rule_issue_f1": round(rule[0], 4),
        "sentence_rule_multi_issue_recall": round(rule[1], 4),
        "auto_answer_share": round(len(above) / max(1, len(held)), 4),
        "auto_answer_precision": round(sum(above) / max(1, len(above)), 4),
    }
    figures["sentence_weight"] = sentence_weight
    return calibration, thresholds, (weights if use_stage else None), sentence_weight, figures
