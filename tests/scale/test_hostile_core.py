"""Hostile input through the core's text paths: SQL metacharacters, control characters and
oversized fields are stored verbatim (or clearly bounded), never executed, never a crash."""

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.store.bounds import no_nul
from bot.store.models import Message, Ticket
from bot.text.parse import parse_message
from bot.types import InboundMessage
from tests.scale.conftest import NOW

SQL = [
    "'; DROP TABLE tickets; --",
    "Robert'); DELETE FROM messages WHERE ('1'='1",
    '" OR 1=1 --',
    "\\'; SELECT pg_sleep(5); --",
    "%_%' ESCAPE '\\",
    "1; UPDATE tickets SET status='closed'",
    "$$; DROP SCHEMA public CASCADE; $$",
    "\x00\x01\x1b[31m\u202e\ufeff",
]
EXAMPLE = itertools.count()
HOSTILE = st.one_of(st.sampled_from(SQL), st.text(max_size=300))


def message(n: int, **fields: object) -> InboundMessage:
    values: dict[str, object] = {
        "source": "email",
        "external_id": f"<hostile-{n}@example.org>",
        "text": "my voucher never came for 71-621",
        "sender_email": "someone@example.org",
        "received_at": NOW,
    }
    return InboundMessage(**{**values, **fields})  # type: ignore[arg-type]


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=HOSTILE, subject=HOSTILE, name=HOSTILE, ident=HOSTILE)
def test_sql_metacharacters_in_every_field_are_stored_verbatim(
    runtime: Runtime, sessions: sessionmaker[Session], text: str, subject: str, name: str,
    ident: str,
) -> None:  # fmt: skip
    ident = f"<{next(EXAMPLE)}:{ident}>"  # the examples share one database
    hostile = message(0, external_id=ident, text=text, subject=subject, sender_name=name)
    with sessions() as session, session.begin():
        before = count(session, Message)
        first = take_in(session, runtime, hostile, now=NOW)
    with sessions() as session, session.begin():
        again = take_in(session, runtime, hostile, now=NOW)
        stored = session.get_one(Message, first.message_id)
        expected = (no_nul(text), no_nul(subject), no_nul(ident))  # PostgreSQL refuses NUL
        assert (stored.body, stored.subject, stored.external_id) == expected
        assert again.duplicate and count(session, Message) == before + 1
        assert session.scalar(select(func.count()).select_from(Ticket)) is not None  # tables stand


def test_oversized_fields_are_taken_in_not_crashed_on(
    runtime: Runtime, sessions: sessionmaker[Session]
) -> None:
    huge_id = "<" + "x" * 5000 + "@example.org>"
    fields = {
        "external_id": huge_id,
        "text": "voucher for 71-621 never came. " * 40_000,  # ~1.2 MB
        "subject": "S" * 100_000,
        "sender_email": "a" * 400 + "@example.org",
        "sender_name": "N" * 10_000,
        "thread_key": "<" + "t" * 5000 + ">",
        "in_reply_to": ["<" + "r" * 5000 + ">"],
        "slack_channel": "C" * 500,
    }
    with sessions() as session, session.begin():
        outcome = take_in(session, runtime, message(1, **fields), now=NOW)
    with sessions() as session, session.begin():
        again = take_in(session, runtime, message(1, **fields), now=NOW)
        stored = session.get_one(Message, outcome.message_id)
        assert again.duplicate and again.message_id == outcome.message_id
        assert len(stored.body) == len(fields["text"])  # the body is never cut


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000), st.lists(st.sampled_from(["ABCD-7Q2K", "X9K2-7Q2K-ZZ11"])))
def test_parsed_entities_never_hold_a_whole_code(text: str, codes: list[str]) -> None:
    full = text + " my voucher code is " + " and ".join(codes) if codes else text
    parsed = parse_message(full, today=datetime(2026, 11, 25, tzinfo=UTC).date())
    shown = parsed.entities.model_dump_json() + parsed.new_text
    for code in codes:
        assert code not in shown
