"""The deployment's retrained matcher models live in the database (`matcher_models`), and the
newest passing one classifies every message. A row with odd content (a restore gone wrong, a
hand edit, a half-written migration) must neither run code nor stop the intake: it is plain JSON
and .npy arrays, refused on load, and the shipped model classifies instead. Raw mail through the
real CLI."""

import io
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session

from bot.matching.matcher import shipped_model
from bot.matching.model import ARRAYS
from bot.matching.registry import store_model
from bot.store.models import Ticket
from bot.store.models.matching import MatcherModel
from tests.security.conftest import Mailroom, mail

EMILY_MAIL = mail(
    "emily.carter@example.com",
    "Can I use my beta voucher for 70-640 instead of 70-620?",
    msgid="scope.1@example.com",
)


def npy(*arrays: Any) -> bytes:
    with io.BytesIO() as buffer:
        for array in arrays:
            np.save(buffer, array, allow_pickle=True)
        return buffer.getvalue()


def shipped_arrays(**replaced: Any) -> bytes:
    arrays = shipped_model().arrays()
    return npy(*(replaced.get(name, arrays[name]) for name in ARRAYS))


def broken(db: Session, how: str) -> None:
    """The shipped model stored as version 1, passing, then damaged as `how` says."""
    row = store_model(db, shipped_model(), passed=True, actor="restore", figures={})
    if how == "no document":
        row.document = {}
    elif how == "not npy":
        row.arrays = b"\x93NUMPY garbage"
    elif how == "pickled object array":
        row.arrays = npy(np.array([{"__reduce__": "os.system"}], dtype=object))
    elif how == "classes renamed":
        meta = dict(row.document["meta"], classes=["a", "b"])
        row.document = {**row.document, "meta": meta}
    elif how == "weights of another shape":
        row.arrays = shipped_arrays(weights=np.zeros((7, 3)))
    elif how == "weights not finite":
        weights = shipped_model().arrays()["weights"].copy()
        weights[5, 3] = np.nan
        row.arrays = shipped_arrays(weights=weights)
    elif how == "thresholds of another kind":
        meta = dict(row.document["meta"], thresholds={"auto_answer": "yes", "extra": 1})
        row.document = {**row.document, "meta": meta}
    db.commit()


@pytest.mark.parametrize(
    "how",
    [
        "no document",
        "not npy",
        "pickled object array",
        "classes renamed",
        "weights of another shape",
        "thresholds of another kind",
        "weights not finite",
    ],
)
def test_a_damaged_model_row_stops_no_intake(desk: Mailroom, db: Session, how: str) -> None:
    broken(db, how)
    result = desk.take(EMILY_MAIL)
    [ticket] = [db.get(Ticket, t) for t in result["ticket_ids"]]
    assert ticket is not None and ticket.issue == "voucher-scope"  # read by the shipped model
    listed = desk.cli("model", "list")
    assert listed.code == 0 and "Traceback" not in listed.err


def test_a_model_whose_thresholds_are_not_probabilities_is_not_used(
    desk: Mailroom, db: Session
) -> None:
    row = store_model(db, shipped_model(), passed=True, actor="restore", figures={})
    meta = dict(row.document["meta"])
    meta["thresholds"] = {**meta["thresholds"], "auto_answer": -1.0, "not_a_request": 0.0}
    row.document = {**row.document, "meta": meta}
    db.commit()
    desk.take(mail("emily.carter@example.com", "hmm", msgid="hmm.1@example.com"))
    assert db.query(MatcherModel).count() == 1
    # A "hmm" read as not-a-request at any confidence would now make no ticket at all.
    assert db.query(Ticket).count() == 1
