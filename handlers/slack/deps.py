"""What every listener needs, below all of them: the Web API client, the database handle bolt's
middleware hands each request, and `Deps` (settings, sessions, the core's runtime, the directory
of agents, immediate delivery of what a request queued).

Listeners import from here and from `core`/`respond`, never from each other or from `app`.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import Sender, deliver_due
from bot.errors import UserError
from bot.ops.runtime import Runtime
from bot.store.db import transaction
from handlers.slack.access import Directory

log = logging.getLogger("triage.slack")


def web_client(settings: Settings, *, token: str | None = None) -> WebClient:
    """A Web API client on `SLACK_API_URL` that retries 429s (after Retry-After), 5xx, resets."""
    bot_token = token or (
        settings.env.slack_bot_token.get_secret_value() if settings.env.slack_bot_token else None
    )
    return WebClient(
        token=bot_token,
        base_url=settings.env.slack_api_url,
        timeout=10,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def require_credentials(settings: Settings, *, socket: bool = False) -> tuple[str, str]:
    """The bot token and signing secret, or a one-line error naming what is missing."""
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.env.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.env.slack_signing_secret),
            *((("SLACK_APP_TOKEN", settings.env.slack_app_token),) if socket else ()),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        raise UserError(f"Slack is not configured: set {' and '.join(missing)}")
    assert settings.env.slack_bot_token and settings.env.slack_signing_secret
    return (
        settings.env.slack_bot_token.get_secret_value(),
        settings.env.slack_signing_secret.get_secret_value(),
    )


class Database:
    """The database handle the middleware puts in each request's context as `context["db"]`.

    Lazy listeners run after the request's middleware has returned, so they open their own
    transaction from it rather than share one session; deep copies (bolt copies the context for
    lazy listeners) keep the same handle.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with transaction(self.sessions) as session:
            yield session

    def __deepcopy__(self, memo: dict[int, Any]) -> "Database":
        return self

    def __copy__(self) -> "Database":
        return self


def default_runtime_factory(settings: Settings) -> Callable[[], Runtime]:
    return lambda: Runtime(settings)


@dataclass
class Deps:
    """What the listeners need, built once per process and passed to every `register`."""

    settings: Settings
    sessions: sessionmaker[Session]
    client: WebClient
    runtime_factory: Callable[[], Runtime] | None = None
    deliver_now: bool = True
    # Delivers one Slack outbox item (the app factory sets it; None: the worker delivers).
    send: Sender | None = None
    _runtime: Runtime | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def runtime(self) -> Runtime:
        """The core's intake runtime (knowledge base, matcher, records), built on first use."""
        with self._lock:  # the knowledge base is indexed once, not by every first request at once
            if self._runtime is None:
                factory = self.runtime_factory or default_runtime_factory(self.settings)
                self._runtime = factory()
            return self._runtime

    @cached_property
    def prefix(self) -> str:
        return self.settings.app.desk.ticket_prefix

    @cached_property
    def directory(self) -> Directory:
        """Who is an agent, lead or owner (one cache of group members per process)."""
        return Directory(self.settings.app, self.client)

    def flush_outbox(self) -> None:
        """Deliver what this request enqueued now instead of at the worker's next sweep.

        Failures stay in the outbox for the next attempt; they are never raised to the user.
        """
        if not self.deliver_now or self.send is None:
            return
        try:
            deliver_due(self.sessions, {"slack": self.send})
        except Exception:  # a concurrent claim on SQLite, a dead connection: the worker retries
            log.warning("immediate outbox delivery failed; left for the worker", exc_info=True)
