"""Delivering the outbox's Slack items: the core's channel-neutral messages rendered as Block
Kit, posted in the thread their `reply_to` names or as DMs, with charts uploaded.

Errors are sorted for the outbox: rate limits (after the SDK's own retries, with Retry-After),
server errors and broken connections are transient; a channel or token Slack refuses is permanent.

Exactly once: every post carries its outbox id in its metadata, and a post whose earlier attempt
may have gone out (the outbox counted one before this) is first looked for in the channel's
history, or its thread's replies; when found, it is recorded as delivered, not posted again.
Every call fits in the outbox attempt's time (`time_left`), so its claim outlives the sender.
"""

import base64
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config.settings import Settings
from bot.delivery.messages import POSTED
from bot.delivery.outbox import (
    PermanentDeliveryError,
    Sender,
    TransientDeliveryError,
    time_left,
)
from bot.store.models.outbox import OutboxItem
from handlers.slack import blocks, notices, surge_blocks
from handlers.slack.deps import web_client
from handlers.slack.mrkdwn import escape as esc

log = logging.getLogger("triage.slack")

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "is_archived",
    "user_not_found",
    "cannot_dm_bot",
    "invalid_blocks",
    "msg_too_long",
    "no_text",
    "missing_scope",
}
EVENT_TYPE = "triage_delivery"  # the metadata every post carries: {"outbox_id": ...}
CALL_TIMEOUT = 10  # seconds a Web API call may wait for Slack
# Slack's clock against ours when looking back for an earlier attempt's post; and how far to
# page through a busy channel before posting anyway (the item is older than most history).
LOOK_BACK = timedelta(minutes=5)
MAX_PAGES = 20


def sender(settings: Settings) -> tuple[str, Sender] | None:
    """The Slack sender, or None when SLACK_BOT_TOKEN is not set."""
    if settings.env.slack_bot_token is None:
        return None
    return "slack", make_sender(settings)


def make_sender(settings: Settings, *, client: WebClient | None = None) -> Sender:
    """The outbox's Slack sender; on `client`'s token and API URL when given (bolt's)."""
    client = delivery_client(client or web_client(settings))

    def send(item: OutboxItem) -> None:
        try:
            deliver(client, item)
        except SlackApiError as exc:
            raise classify(exc) from exc
        except (SlackClientError, URLError, OSError) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc

    return send


class _WithinAttempt(RetryHandler):
    """Retries as `inner` does, but only while the outbox attempt has time for the wait and
    another call: the attempt's claim must outlive its sender."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        wait = float((headers.get("retry-after") or ["2"])[0]) + 1
        return time_left() > wait + CALL_TIMEOUT + 1 and self.inner._can_retry(
            state=state, request=request, response=response, error=error
        )

    def prepare_for_next_attempt(self, **kwargs: Any) -> None:
        self.inner.prepare_for_next_attempt(**kwargs)


def delivery_client(client: WebClient) -> WebClient:
    """A client for the outbox on `client`'s token and URL: it waits out a 429 or retries a
    5xx only within the attempt's time, and never resends after a broken connection (the
    request may have been posted; the outbox retries, looking for it first)."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=CALL_TIMEOUT,
        retry_handlers=[
            _WithinAttempt(RateLimitErrorRetryHandler(max_retry_count=2)),
            _WithinAttempt(ServerErrorRetryHandler(max_retry_count=2)),
        ],
    )


def _fence(calls: int = 1) -> None:
    """Never start a call that could outlast the attempt (and so its claim)."""
    if time_left() < calls * (CALL_TIMEOUT + 1):
        raise TransientDeliveryError("the attempt's time is up before Slack answered")


def classify(exc: SlackApiError) -> Exception:
    """A Web API error as the outbox's transient or permanent failure."""
    response = exc.response
    error = str(response.get("error") or "")
    status = response.status_code
    if status == 429 or error == "ratelimited":
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        return TransientDeliveryError(
            f"rate limited by Slack ({error or status})",
            retry_after=float(retry_after) if retry_after else 30.0,
        )
    if status >= 500:
        return TransientDeliveryError(f"Slack answered {status} ({error})")
    if error in PERMANENT:
        return PermanentDeliveryError(f"Slack refused: {error}")
    return TransientDeliveryError(f"Slack error: {error or status}")


def render(payload: dict[str, Any]) -> tuple[str, blocks.Blocks]:
    """Block Kit for one of the core's messages (`bot.delivery.messages`, as JSON); a view this
    adapter does not know, or cannot read, is sent as its plain text."""
    view, text = payload.get("view"), str(payload.get("text") or "")
    try:
        if view == "reply":  # the notification line is the core's plain text: escaped too
            return esc(text) or "Triage reply", _reply_blocks(payload)[1]
        if view == "notice":
            ref = str(payload["ref"])
            data = {**payload, "subject": payload.get("about"), "prefix": ref.rpartition("-")[0]}
            return notices.escalation(data)
        if view == "digest":
            return esc(text), notices.digest(payload.get("digest") or {})[1]
        if view == "answer":
            return notices.answer({"text": text})
        if view == "sla-summary":
            return notices.sla_summary(payload)
        if view == "surge":
            return surge_blocks.alert(payload)
    except (KeyError, TypeError, ValueError):
        log.warning("unreadable %s message; sent as plain text", view)
    return blocks.message(text)


def _reply_blocks(payload: dict[str, Any]) -> tuple[str, blocks.Blocks]:
    """The triage reply: the core's public ticket lines, with what intake added for Slack (the
    facts and drafted answers only when the place is an agent's DM)."""
    extra = payload.get("extra") or {}
    private = bool(extra.get("private"))
    added = {t["id"]: t for t in extra.get("tickets", [])}
    tickets = [
        {**t, **added.get(t["ticket_id"], {})}
        if private
        else {**added.get(t["ticket_id"], {}), **t}
        for t in payload.get("tickets", [])
    ]
    data = {**extra, "tickets": tickets, "note": payload.get("note")}
    return blocks.triage_result(data, private=private)


def deliver(client: WebClient, item: OutboxItem) -> None:
    """Post one outbox item: to a user id as a DM, else to the channel, in the thread the
    message's `reply_to` names; then upload its chart, if it has one. A retry after the post
    went out but the upload failed only uploads; a retry after an attempt that may have posted
    looks for that post first."""
    payload: dict[str, Any] = dict(item.payload)
    thread_ts = (payload.get("reply_to") or {}).get("thread_ts")
    posted = payload.get(POSTED)
    replaces = payload.get("replaces") or {}
    if posted is None and replaces.get("channel") and replaces.get("ts"):
        # A newer version of a message already posted (a surge that grew): edit it in place.
        text, body = render(payload)
        _fence()
        client.chat_update(channel=replaces["channel"], ts=replaces["ts"], text=text, blocks=body)
        posted = {"channel": replaces["channel"], "ts": replaces["ts"]}
        item.payload = {**payload, POSTED: posted}
    if posted is None:
        channel = item.recipient
        if _USER_ID.match(channel):
            _fence()
            channel = client.conversations_open(users=channel)["channel"]["id"]
        if item.attempts > 1:  # an earlier attempt may have posted it, then died unrecorded
            posted = find_posted(client, item, channel=channel, thread_ts=thread_ts)
    if posted is None:
        text, body = render(payload)
        _fence()
        response = client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=body,
            thread_ts=thread_ts,
            unfurl_links=False,
            # Which delivery this is: how a retry finds a post whose attempt died unrecorded,
            # and how a check (or an operator) tells a repeat from two messages alike.
            metadata={"event_type": EVENT_TYPE, "event_payload": {"outbox_id": item.id}},
        )
        posted = {"channel": response.get("channel", channel), "ts": response.get("ts")}
    item.payload = {**payload, POSTED: posted}
    chart = payload.get("chart")
    if chart:
        _fence(calls=3)  # the upload is three requests
        client.files_upload_v2(
            channel=posted["channel"],
            content=base64.b64decode(chart["data_b64"]),
            filename=chart.get("filename", "chart.png"),
            title=chart.get("title"),
            thread_ts=thread_ts or posted.get("ts"),
        )


def find_posted(
    client: WebClient, item: OutboxItem, *, channel: str, thread_ts: str | None
) -> dict[str, Any] | None:
    """Where an earlier attempt posted this item (its outbox id in the message's metadata), in
    the channel's history or the thread's replies since it was queued; None when not there."""
    oldest = f"{(item.created_at - LOOK_BACK).timestamp():.6f}"
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        _fence()
        arguments = {"channel": channel, "oldest": oldest, "limit": 200, "cursor": cursor}
        try:
            if thread_ts:
                page = client.conversations_replies(
                    ts=thread_ts, include_all_metadata=True, **arguments
                )
            else:
                page = client.conversations_history(include_all_metadata=True, **arguments)
        except SlackApiError as exc:
            failure = classify(exc)
            if isinstance(failure, TransientDeliveryError):
                raise failure from exc
            # A history Slack will not show (a missing scope): posting again risks a repeat,
            # not posting loses the message.
            log.warning("outbox item %d: cannot read history (%s); posting", item.id, failure)
            return None
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            found = (metadata.get("event_payload") or {}).get("outbox_id")
            if metadata.get("event_type") == EVENT_TYPE and str(found) == str(item.id):
                log.info("outbox item %d: an earlier attempt posted it; not posted again", item.id)
                return {"channel": channel, "ts": message.get("ts")}
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
    log.warning("outbox item %d: not found in %d pages of history; posting", item.id, MAX_PAGES)
    return None
