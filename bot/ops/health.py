"""Health checks for process managers and load balancers: alive, and ready to take work."""

from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.store.db import current_revisions, head_revisions


def liveness() -> dict[str, str]:
    """The process answers: nothing to check beyond being able to say so."""
    return {"status": "ok"}


@cache
def _heads() -> frozenset[str]:
    """The migrations' heads: read once per process (the scripts ship with the code)."""
    return frozenset(head_revisions())


def readiness(engine: Engine) -> tuple[bool, dict[str, Any]]:
    """Ready when the database answers and its schema is at the migrations' head."""
    try:
        current = current_revisions(engine) == _heads()
    except SQLAlchemyError:
        return False, {"status": "unavailable", "database": "unreachable", "migrations": None}
    details: dict[str, Any] = {
        "status": "ok" if current else "unavailable",
        "database": "reachable",
        "migrations": "current" if current else "behind",
    }
    if not current:
        details["head"] = sorted(_heads())
    return current, details
