"""Hostile mail through the MIME intake: whatever bytes arrive, the message is stored, found to
be a duplicate, or kept raw in quarantine; never lost, never a crash."""

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.store.models import Message
from bot.store.models.mail import QuarantinedMessage
from handlers.email.intake import ingest_message
from handlers.email.parse import ParsedEmail, UnparseableEmail, parse_email

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SERIAL = itertools.count()
HEADER_TEXT = st.one_of(
    st.text(max_size=200).map(lambda s: s.replace("\r", " ").replace("\n", " ")),
    st.sampled_from([
        "=?utf-8?B?" + "A" * 50 + "?=", "=?bogus-charset?Q?caf=E9?=", "=?utf-8?Q?=00=FF?=",
        "'; DROP TABLE messages; --", "<" * 300, "x" * 5000,
    ]),
)  # fmt: skip
CHARSETS = st.sampled_from(["utf-8", "latin-1", "utf-16", "x-unknown", "", 'us-ascii"; x="'])
TRANSFER = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary"])


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    headers = {
        "To": f"desk+{next(SERIAL)}@example.org",  # examples share a database: keep them apart
        "From": draw(st.sampled_from(["a@example.org", "", "<>", '"Evil" <x@y>']) | HEADER_TEXT),
        "Subject": draw(HEADER_TEXT),
        "Message-ID": f"<{next(SERIAL)}.{draw(HEADER_TEXT)}@h>",
        "In-Reply-To": draw(HEADER_TEXT),
    }
    body = draw(st.binary(max_size=3000))
    kind = draw(st.sampled_from(["text/plain", "text/html", "multipart/mixed", "message/rfc822"]))
    lines = [f"{k}: {v}" for k, v in headers.items()]
    if kind == "multipart/mixed":
        boundary = draw(st.sampled_from(["b", "", "=_x", "a" * 100]))
        lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        part = f"--{boundary}\r\nContent-Type: text/plain; charset={draw(CHARSETS)}\r\n\r\n"
        raw = "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n"
        return raw + part.encode() + body + f"\r\n--{boundary}".encode() * draw(st.integers(0, 2))
    lines.append(f"Content-Type: {kind}; charset={draw(CHARSETS)}")
    lines.append(f"Content-Transfer-Encoding: {draw(TRANSFER)}")
    return "\r\n".join(lines).encode("utf-8", "surrogateescape") + b"\r\n\r\n" + body


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.one_of(mails(), st.binary(max_size=2000)))
def test_parsing_any_bytes_gives_a_message_or_a_clear_refusal(raw: bytes) -> None:
    try:
        parsed = parse_email(raw)
    except UnparseableEmail as exc:
        assert str(exc)
        return
    assert isinstance(parsed, ParsedEmail) and parsed.external_id


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=mails())
def test_ingesting_any_mail_keeps_it_exactly_once(
    raw: bytes, settings: Settings, runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    def intake(session: Session, message, *, now=None):  # type: ignore[no-untyped-def]
        return take_in(session, runtime, message, now=now)

    with sessions() as session:
        before = _kept(session)
    first = ingest_message(sessions, raw, settings=settings, intake=intake, now=NOW)
    again = ingest_message(sessions, raw, settings=settings, intake=intake, now=NOW)
    assert first is not None and again is not None
    assert first.status in ("stored", "quarantined")
    assert again.status in ("duplicate", "quarantined")
    with sessions() as session:
        assert _kept(session) == before + 1


def _kept(session: Session) -> int:
    messages = session.scalar(select(func.count()).select_from(Message)) or 0
    quarantined = session.scalar(select(func.count()).select_from(QuarantinedMessage)) or 0
    return messages + quarantined
