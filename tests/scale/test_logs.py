"""Log lines carry ids and counts; never a voucher or promo code, never a message body."""

import io
import json
import logging

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config.settings import Settings
from bot.intake.flow import take_in
from bot.ops.logs import configure_logging, mask_codes
from bot.ops.runtime import Runtime
from tests.scale.conftest import NOW, SECRET_BODY, email

CODES = ("X9K2-7Q2K-ABCD", "PROMO7Z9Q8")


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest, settings: Settings):  # type: ignore[no-untyped-def]
    settings.env.log_format = request.param
    stream = io.StringIO()
    handler = configure_logging(settings, stream=stream, level=logging.INFO)
    yield stream
    logging.getLogger().removeHandler(handler)


def assert_clean(output: str) -> None:
    for code in CODES:
        assert code not in output
    assert "purple giraffe" not in output


def test_codes_in_messages_arguments_and_extras_are_masked(captured: io.StringIO) -> None:
    log = logging.getLogger("triage.test")
    log.info("voucher X9K2-7Q2K-ABCD rejected")
    log.warning("promo code %s failed for %s", "PROMO7Z9Q8", "4012345")
    log.info("looked up", extra={"note": "code is X9K2-7Q2K-ABCD", "message_id": 7})
    output = captured.getvalue()
    assert_clean(output)
    assert "****-ABCD" in output and "****-Z9Q8" in output
    assert "message_id" in output and "4012345" in output


def test_body_fields_are_dropped_and_long_lines_cut(captured: io.StringIO) -> None:
    log = logging.getLogger("triage.test")
    log.info("taken in", extra={"body": SECRET_BODY, "subject": SECRET_BODY, "source": "email"})
    log.info("oops: %s", "x" * 5000 + SECRET_BODY)
    output = captured.getvalue()
    assert_clean(output)
    assert "source" in output and "chars cut" in output


def test_database_errors_lose_their_parameters(captured: io.StringIO) -> None:
    error = IntegrityError("INSERT INTO messages (body) VALUES (%s)", [SECRET_BODY], Exception())
    try:
        raise error
    except IntegrityError:
        logging.getLogger("triage.test").exception("store failed")
    output = captured.getvalue()
    assert_clean(output)
    assert "parameters hidden" in output and "IntegrityError" in output


def test_intake_logs_ids_not_the_message(
    captured: io.StringIO, runtime: Runtime, db: Session
) -> None:
    take_in(db, runtime, email(SECRET_BODY), now=NOW)
    take_in(db, runtime, email(SECRET_BODY), now=NOW)
    db.commit()
    output = captured.getvalue()
    assert_clean(output)
    assert "message taken in" in output and "duplicate message" in output


def test_json_lines_are_one_object_each(settings: Settings) -> None:
    settings.env.log_format = "json"
    stream = io.StringIO()
    handler = configure_logging(settings, stream=stream, level=logging.INFO)
    try:
        logging.getLogger("triage.test").info("sent", extra={"outbox_id": 3, "channel": "email"})
    finally:
        logging.getLogger().removeHandler(handler)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "sent" and line["outbox_id"] == 3 and line["level"] == "info"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("voucher ABCD-EFGH-7Q2K", "voucher ****-7Q2K"),
        ("my code is abc123xyz9", "my code is ****-xyz9"),
        ("exam 71-621 on 2026-11-25, MCP 4012345", "exam 71-621 on 2026-11-25, MCP 4012345"),
    ],
)
def test_mask_codes_uses_the_parsers_patterns(text: str, masked: str) -> None:
    assert mask_codes(text) == masked
