"""The bolt app factory: the database middleware and every feature's listeners.

Nothing registers at import time: `build_app` builds one `App` and asks each feature module to
`register` its listeners on it. This module sits above the listeners; they get what they need
from `deps` (below them), never from here.
"""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.ops.runtime import Runtime
from handlers.slack import actions, commands, home, identity, intake, surges
from handlers.slack.deps import Database, Deps, require_credentials, web_client
from handlers.slack.outbound import make_sender

log = logging.getLogger("triage.slack")

LISTENER_THREADS = 4  # lazy work: few threads, so acks are not starved of the GIL by slow work


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
        send=make_sender(settings, client=client),
    )
    database = Database(sessions)

    @app.middleware
    def provide_database(context: BoltContext, next: Callable[[], None]) -> None:
        context["db"] = database
        next()

    for feature in (commands, intake, actions, home, identity, surges):
        feature.register(app, deps)
    return app
