"""Health checks for process managers and load balancers: alive, and ready to take work."""

from typing import Any

from sqlalchemy import Engine

from bot.db import head_revisions, is_current, ping
from bot.errors import DatabaseUnavailable


def liveness() -> dict[str, str]:
    """The process answers: nothing to check beyond being able to say so."""
    return {"status": "ok"}


def readiness(engine: Engine) -> tuple[bool, dict[str, Any]]:
    """Ready when the database answers and its schema is at the migrations' head."""
    if not ping(engine):
        return False, {"status": "unavailable", "database": "unreachable", "migrations": None}
    try:
        current = is_current(engine)
    except DatabaseUnavailable:
        return False, {"status": "unavailable", "database": "unreachable", "migrations": None}
    details: dict[str, Any] = {
        "status": "ok" if current else "unavailable",
        "database": "reachable",
        "migrations": "current" if current else "behind",
    }
    if not current:
        details["head"] = sorted(head_revisions())
    return current, details
