"""Trained matcher models of this deployment (retrained with its agents' corrections)."""

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models.base import Base, utcnow


class MatcherModel(Base):
    """One `triage model train`: the model as JSON and .npy bytes (never a pickle), its figures
    and whether it passed the comparison with the model in use. The newest passing one is used."""

    __tablename__ = "matcher_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    passed: Mapped[bool] = mapped_column(default=False, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Training figures, and the frozen-split figures of this model and of the one it replaced.
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # meta.json, words.json and chars.json of the model directory, as one document.
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The .npy files of the model, one after another in `bot.matching.model.ARRAYS` order.
    arrays: Mapped[bytes] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        return f"MatcherModel(v{self.version}, passed={self.passed})"
