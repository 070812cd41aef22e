"""A sender process SIGKILLed around its delivery, before the outbox could record the outcome:
what `kill -9`, the OOM killer or a lost machine leaves behind. Run by the tests as

    python -m tests.killed_sender after|before '{"DATABASE_URL": ..., "SLACK_API_URL": ...}'

It delivers what is due with the real senders, and dies right after (or before) the first
one goes out.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config.settings import load_settings
from bot.delivery.outbox import Sender, deliver_due
from bot.ops.adapters import discover_senders
from bot.store.db import make_engine, session_factory
from bot.store.models.outbox import OutboxItem

ROOT = Path(__file__).resolve().parents[1]


def run(when: str, env: dict[str, Any]) -> None:
    """Start the process and wait for its death, and for the database to notice it."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.killed_sender", when, json.dumps(env, default=str)],
        cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    _wait_for_its_locks(env["DATABASE_URL"])


def _wait_for_its_locks(url: str) -> None:
    """PostgreSQL ends a dead client's transaction when its backend reads the closed socket: a
    moment after the death, longer on a loaded machine. Until then the item it was sending is
    locked, and a worker skips it for this round (the next takes it): the tests are about what
    the next attempt does, not about that moment."""
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return
        every = select(func.count()).select_from(OutboxItem)
        free = select(func.count()).select_from(
            select(OutboxItem.id).with_for_update(skip_locked=True).subquery()
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.begin() as connection:
                if connection.scalar(every) == connection.scalar(free):
                    return
            time.sleep(0.05)
        raise AssertionError("the killed sender's transaction still holds its locks after 30 s")
    finally:
        engine.dispose()


def _dying(send: Sender, when: str) -> Sender:
    def send_and_die(item: OutboxItem) -> None:
        if when == "after":
            send(item)
        os.kill(os.getpid(), signal.SIGKILL)

    return send_and_die


def main(when: str, env: str) -> None:
    settings = load_settings(config_path=ROOT / "app.yaml", **json.loads(env))
    senders = {c: _dying(s, when) for c, s in discover_senders(settings).items()}
    deliver_due(session_factory(make_engine(settings.database_url)), senders)
    raise SystemExit("nothing was due")


if __name__ == "__main__":
    main(*sys.argv[1:])
