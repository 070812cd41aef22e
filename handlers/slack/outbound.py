"""Delivering the outbox's Slack items: Block Kit from `view` + `data`, DMs, uploaded charts.

Errors are sorted for the outbox: rate limits (after the SDK's own retries, with Retry-After),
server errors and broken connections are transient; a channel or token Slack refuses is permanent.
"""

import base64
import logging
import re
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config.settings import Settings
from bot.delivery.outbox import PermanentDeliveryError, Sender, TransientDeliveryError
from bot.store.models.outbox import OutboxItem
from handlers.slack.blocks import render

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


def sender(settings: Settings) -> tuple[str, Sender] | None:
    """The Slack sender, or None when SLACK_BOT_TOKEN is not set."""
    if settings.env.slack_bot_token is None:
        return None
    return "slack", make_sender(settings)


def make_sender(settings: Settings, *, client: WebClient | None = None) -> Sender:
    from handlers.slack.app import web_client

    client = client or web_client(settings)

    def send(item: OutboxItem) -> None:
        try:
            deliver(client, item)
        except SlackApiError as exc:
            raise classify(exc) from exc
        except (SlackClientError, URLError, OSError) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc

    return send


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


def deliver(client: WebClient, item: OutboxItem) -> None:
    payload: dict[str, Any] = dict(item.payload)
    channel = payload.get("channel") or item.recipient
    posted = payload.get("posted")  # a retry after the post succeeded but the upload failed
    if posted is None:
        if _USER_ID.match(channel) and not payload.get("user"):
            channel = client.conversations_open(users=channel)["channel"]["id"]
        text, blocks = render(
            payload.get("view", ""), payload.get("data") or {}, payload.get("text", "")
        )
        if payload.get("user"):  # visible to that one person only
            response = client.chat_postEphemeral(
                channel=channel,
                user=payload["user"],
                text=text,
                blocks=blocks,
                thread_ts=payload.get("thread_ts"),
            )
            posted = {"channel": channel, "ts": response.get("message_ts")}
        else:
            response = client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=payload.get("thread_ts"),
                unfurl_links=False,
                # Which delivery this is: lets a check (or an operator) tell a repeat from two
                # messages that happen to read the same.
                metadata={"event_type": "triage_delivery", "event_payload": {"outbox_id": item.id}},
            )
            posted = {"channel": response.get("channel", channel), "ts": response.get("ts")}
        item.payload = {**payload, "posted": posted}
    upload = payload.get("file")
    if upload:
        client.files_upload_v2(
            channel=posted["channel"],
            content=base64.b64decode(upload["data_b64"]),
            filename=upload.get("filename", "chart.png"),
            title=upload.get("title"),
            thread_ts=payload.get("thread_ts") or posted.get("ts"),
        )
