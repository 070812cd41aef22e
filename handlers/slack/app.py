"""The bolt app factory: the Web API client, the database middleware, and every feature's listeners.

Nothing registers at import time: `build_app` builds one `App` and asks each feature module to
`register` its listeners on it.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.errors import UserError
from bot.ops.runtime import Runtime
from bot.store.db import transaction
from handlers.slack.access import Directory

log = logging.getLogger("triage.slack")

LISTENER_THREADS = 4  # lazy work: few threads, so acks are not starved of the GIL by slow work


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


@dataclass
class Deps:
    """What the listeners need, built once per process and passed to every `register`."""

    settings: Settings
    sessions: sessionmaker[Session]
    client: WebClient
    runtime_factory: Callable[[], Runtime] | None = None
    deliver_now: bool = True
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
        if not self.deliver_now:
            return
        from handlers.slack.outbound import make_sender

        try:
            deliver_due(self.sessions, {"slack": make_sender(self.settings, client=self.client)})
        except Exception:  # a concurrent claim on SQLite, a dead connection: the worker retries
            log.warning("immediate outbox delivery failed; left for the worker", exc_info=True)


def default_runtime_factory(settings: Settings) -> Callable[[], Runtime]:
    return lambda: Runtime(settings)


def build_app(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    client: WebClient | None = None,
    runtime_factory: Callable[[], Runtime] | None = None,
    deliver_now: bool = True,
) -> App:
    """The bolt `App` for this desk with every feature's listeners registered."""
    token, signing_secret = require_credentials(settings)
    client = client or web_client(settings, token=token)
    app = App(
        client=client,
        signing_secret=signing_secret,
        # acks are cheap, so answer in the request thread; slow work goes to lazy listeners
        process_before_response=True,
        # start even when Slack is unreachable; bolt checks the token on the first request
        token_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS),
        # bolt logs under `slack_bolt.*`, which `configure_logging` holds at WARNING: its DEBUG
        # lines carry the responses it sends (record facts in an agent's view)
    )
    deps = Deps(
        settings=settings,
        sessions=sessions,
        client=client,
        runtime_factory=runtime_factory,
        deliver_now=deliver_now,
    )
    database = Database(sessions)

    @app.middleware
    def provide_database(context: BoltContext, next: Callable[[], None]) -> None:
        context["db"] = database
        next()

    from handlers.slack import actions, commands, home, identity, intake

    for feature in (commands, intake, actions, home, identity):
        feature.register(app, deps)
    return app
