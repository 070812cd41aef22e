"""A deployment's retrained models in its database: stored as plain JSON and .npy bytes, with a
version and figures; the newest one that passed its comparison is the one in use."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.matching.model import ARRAYS, LinearModel
from bot.store.models.matching import MatcherModel


def _payload(model: LinearModel) -> tuple[dict[str, Any], bytes]:
    with io.BytesIO() as buffer, tempfile.TemporaryDirectory(prefix="triage-model-") as tmp:
        directory = Path(tmp)
        model.save(directory)
        document = {
            name: json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("meta", "words")
        }
        for name in ARRAYS:
            np.save(buffer, np.load(directory / f"{name}.npy", allow_pickle=False),
                    allow_pickle=False)  # fmt: skip
        return document, buffer.getvalue()


def store_model(
    session: Session,
    model: LinearModel,
    *,
    passed: bool,
    actor: str,
    figures: dict[str, Any],
) -> MatcherModel:
    """Add a trained model as the next version."""
    version = (session.scalar(select(func.max(MatcherModel.version))) or 0) + 1
    document, arrays = _payload(model)
    row = MatcherModel(
        version=version, passed=passed, actor=actor, figures=figures, document=document,
        arrays=arrays,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def newest_passing_id(session: Session) -> int | None:
    return session.scalar(
        select(MatcherModel.id)
        .where(MatcherModel.passed.is_(True))
        .order_by(MatcherModel.version.desc())
        .limit(1)
    )


def load_model(session: Session, model_id: int) -> tuple[int, LinearModel]:
    """(version, model) of a stored model."""
    row = session.get_one(MatcherModel, model_id)
    buffer = io.BytesIO(row.arrays)
    arrays = {name: np.load(buffer, allow_pickle=False) for name in ARRAYS}
    doc = row.document
    return row.version, LinearModel.from_parts(doc["meta"], doc["words"], arrays)


def list_models(session: Session) -> list[MatcherModel]:
    return list(session.scalars(select(MatcherModel).order_by(MatcherModel.version)))
