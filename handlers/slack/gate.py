"""The gate in front of bolt: what an unauthenticated request may cost, and how it is refused.

A request's body is read only up to a cap (Slack sends a few hundred KB at most), counted as it
streams in, so a 100 MB body is refused with 413 after the first half MB instead of being held
in memory. Its Slack signature is checked on the raw bytes before anything parses them, so a
stranger's deeply nested JSON never reaches a JSON parser. Each refusal is one status and one
short log line, never a traceback.
"""

import logging
import re

from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("triage.slack")

DEFAULT_MAX_BODY = 512 * 1024
MAX_BODY_ENV = "TRIAGE_SLACK_MAX_BODY"
# Slack's timestamp is whole seconds; its signature `v0=` and 64 hex digits. Anything else is
# refused before `SignatureVerifier`, whose `int()` and `compare_digest` would raise on it.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Refusal(Exception):
    """A request refused at the gate: its status and a reason safe to log and answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status, self.reason = status, reason

    def response(self) -> Response:
        return JSONResponse({"error": self.reason}, status_code=self.status)


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, read as it streams in; Refusal(413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise Refusal(400, "malformed content-length")
        if int(declared) > limit:
            raise Refusal(413, f"request body over {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refusal(413, f"request body over {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Refusal(400, "client went away mid-request") from None
    return b"".join(chunks)


def verify(verifier: SignatureVerifier, request: Request, body: bytes) -> None:
    """Refusal(401) unless the request carries a well-formed, fresh, valid Slack signature."""
    timestamp = request.headers.get("x-slack-request-timestamp")
    signature = request.headers.get("x-slack-signature")
    if timestamp is None or not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal(401, "missing or malformed x-slack-request-timestamp")
    if signature is None or not _SIGNATURE.fullmatch(signature):
        raise Refusal(401, "missing or malformed x-slack-signature")
    try:
        text = body.decode("utf-8")  # Slack signs UTF-8 text; the verifier decodes it the same
    except UnicodeDecodeError:
        raise Refusal(400, "request body is not UTF-8") from None
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise Refusal(401, "invalid or stale signature")


# Parts of a payload bolt's middleware reads as objects without checking: a signed payload with
# another shape is refused here (400) rather than failing inside bolt (500 and a traceback).
_OBJECTS = ("view", "container", "message", "team", "enterprise", "channel")


def check_shape(payload: object) -> None:
    """Refusal(400) unless `payload` is an object whose parts bolt reads have their shapes."""
    if not isinstance(payload, dict):
        raise Refusal(400, "malformed request")
    wrong = [k for k in _OBJECTS if payload.get(k) is not None and not isinstance(payload[k], dict)]
    if "event" in payload and not isinstance(payload["event"], dict):  # bolt reads it unchecked
        wrong.append("event")
    if payload.get("user") is not None and not isinstance(payload["user"], dict | str):
        wrong.append("user")
    actions = payload.get("actions")
    if actions is not None and not (
        isinstance(actions, list) and all(isinstance(a, dict) for a in actions)
    ):
        wrong.append("actions")
    if wrong:
        raise Refusal(400, f"malformed request: {', '.join(wrong)}")


async def admit(request: Request, *, verifier: SignatureVerifier, limit: int) -> bytes:
    """The body of a request that may reach bolt; Refusal otherwise (logged in one line)."""
    try:
        body = await read_capped(request, limit)
        verify(verifier, request, body)
    except Refusal as refusal:
        client = request.client.host if request.client else "unknown"
        log.warning("refused a Slack request from %s: %s %s", client, refusal.status,
                    refusal.reason)  # fmt: skip
        raise
    return body
