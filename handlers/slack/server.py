"""The HTTP face of the Slack app: an ASGI app (Starlette) for uvicorn.

`POST /slack/events` takes every Slack request (commands, events, interactivity); `GET /healthz`
answers whether the database is reachable. A request passes the gate (`gate.py`: body size cap,
Slack signature) before its body is parsed; what fails to parse after that is a 400. Bolt's
dispatch is synchronous, so it runs in the thread pool and never blocks the event loop for other
requests.
"""

import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.middleware.authorization.internals import (  # the text bolt answers with
    _build_user_facing_authorize_error_message,
)
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config.settings import Settings, load_settings
from bot.delivery.outbox import deliver_due
from bot.ops.http_routes import ops_routes
from bot.ops.logs import configure_logging
from bot.store.db import open_database, ping, session_factory
from handlers.slack.app import build_app, require_credentials
from handlers.slack.gate import DEFAULT_MAX_BODY, MAX_BODY_ENV, Refusal, admit, check_shape

log = logging.getLogger("triage.slack")

EVENTS_PATH = "/slack/events"
DELIVER_EVERY_ENV = "TRIAGE_SLACK_DELIVER_EVERY"


def create_web_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    client: WebClient | None = None,
    runtime_factory: Callable[[], Any] | None = None,
    deliver_every: float = 0.0,
    max_body: int = DEFAULT_MAX_BODY,
) -> Starlette:
    """The ASGI app; `deliver_every` > 0 also delivers the Slack outbox every so many seconds;
    a request body over `max_body` bytes is refused (413) without being read further."""
    engine = engine or open_database(settings.database_url)
    sessions = session_factory(engine)
    bolt = build_app(settings, sessions=sessions, client=client, runtime_factory=runtime_factory)
    verifier = SignatureVerifier(require_credentials(settings)[1])

    async def slack_events(request: Request) -> Response:
        try:
            body = await admit(request, verifier=verifier, limit=max_body)
        except Refusal as refusal:
            return refusal.response()
        try:
            bolt_request = to_bolt_request(request, body)
            check_shape(bolt_request.body)
        # a signed body that is no Slack payload: bad JSON, a list, nesting past the recursion
        # limit (RecursionError), an event that is not an object
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError, Refusal) as exc:
            log.warning("signed Slack request that is not a Slack payload (%s): 400",
                        type(exc).__name__)  # fmt: skip
            return JSONResponse({"error": "malformed request"}, status_code=400)
        response = await run_in_threadpool(bolt.dispatch, bolt_request)
        if _unauthorized_event(bolt_request.body, response):
            # Bolt answers 200 when its auth.test fails (a fresh process during a Web API
            # outage), which would drop the event: a 503 makes Slack deliver it again.
            return JSONResponse({"error": "not ready: Slack auth.test failed"}, status_code=503)
        return to_starlette_response(response)

    async def healthz(_request: Request) -> Response:
        up = await run_in_threadpool(ping, engine)
        return JSONResponse(
            {"status": "ok" if up else "unavailable", "database": "reachable" if up else "down"},
            status_code=200 if up else 503,
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = threading.Event()
        pump = None
        if deliver_every > 0:
            pump = threading.Thread(
                target=_deliver_loop,
                args=(bolt, sessions, settings, deliver_every, stop),
                daemon=True,
            )
            pump.start()
        yield
        stop.set()
        if pump is not None:
            pump.join(timeout=5)

    web = Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *ops_routes(engine),
        ],
        lifespan=lifespan,
    )
    web.state.bolt = bolt
    web.state.sessions = sessions
    return web


def _unauthorized_event(body: dict[str, Any], response: BoltResponse) -> bool:
    return (
        body.get("type") == "event_callback"
        and response.status == 200
        and response.body == _build_user_facing_authorize_error_message()
    )


def _deliver_loop(
    bolt: App, sessions: Any, settings: Settings, every: float, stop: threading.Event
) -> None:
    """Retry what the outbox holds for Slack (replies that failed during an outage)."""
    from handlers.slack.outbound import make_sender

    send = make_sender(settings, client=bolt.client)
    while not stop.wait(every):
        try:
            deliver_due(sessions, {"slack": send})
        except Exception:  # keep pumping: a failed round is retried at the next tick
            log.warning("outbox delivery round failed", exc_info=True)


def prefer_short_requests() -> None:
    """Hand the GIL round more often (1 ms instead of 5 ms), so an acknowledgement is not kept
    waiting behind the lazy listeners' triage work in the same process."""
    sys.setswitchinterval(float(os.environ.get("TRIAGE_SWITCH_INTERVAL", "0.001")))


def from_environment() -> Starlette:
    """Factory for uvicorn's worker processes: settings from the environment the CLI prepared."""
    prefer_short_requests()
    settings = load_settings()
    configure_logging(settings)
    return create_web_app(
        settings,
        deliver_every=float(os.environ.get(DELIVER_EVERY_ENV, "0")),
        max_body=int(os.environ.get(MAX_BODY_ENV, DEFAULT_MAX_BODY)),
    )
