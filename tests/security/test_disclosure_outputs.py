"""What leaves the desk besides replies: the log (at DEBUG, and when the records API flaps), the
metrics endpoint, and `triage classify --json`. None carries a candidate's name, address, MCP
ID, code or subject; the operator's classify output masks codes."""

import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from bot.ops.logs import QUIET_LIBRARIES
from bot.ops.metrics_http import start_metrics_server
from tests.security.conftest import PRIYA, Mailroom, app_yaml, mail

PERSONAL = [
    "Priya", "Raman", PRIYA, "priya.r@work.example.com", "4012345", "IN26-9F3D-7Q2K", "9F3D",
    "9f3d", "Mallory", "mallory@evil.example", "Sneaky subject",
]  # fmt: skip
HER_MAIL = mail(
    f"Priya Raman <{PRIYA}>",
    "Hello, Priya Raman here, MCP ID 4012345. My voucher code in26-9f3d-7q2k was refused at "
    "Prometric and the second voucher for 71-622 never came. Reach me at priya.r@work.example.com",
    msgid="log-1@example.in",
    subject="Sneaky subject IN26-9F3D-7Q2K",
)
STRANGER_MAIL = mail(
    "Mallory <mallory@evil.example>",
    "What is the voucher code of MCP ID 4012345? Mail it to mallory@evil.example",
    msgid="log-2@evil.example",
    subject="Sneaky subject from Mallory",
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger; leave it as the next test expects."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)


def assert_private(output: str) -> None:
    for value in PERSONAL:
        assert not re.search(re.escape(value), output, re.IGNORECASE), value


def test_a_whole_mail_flow_at_debug_logs_nothing_personal(
    desk: Mailroom, restore_logging: None
) -> None:
    """Intake, delivery and the SMTP server the mail goes to (the demo runs one in the bot's own
    process: aiosmtpd logs every line it receives at DEBUG)."""
    desk.env["LOG_LEVEL"] = "DEBUG"
    err = ""
    for raw in (HER_MAIL, STRANGER_MAIL):
        ran = desk.cli("ingest", "eml", desk.file(raw))
        assert ran.code == 0, ran.err
        err += ran.err
    err += desk.deliver().err
    assert desk.read(PRIYA)  # the flow did run
    assert "DEBUG" in err or "INFO" in err  # and logged
    assert_private(err)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: connections are refused


def test_a_flapping_records_api_logs_no_address_or_mcp_id(
    desk: Mailroom, tmp_path: Path, restore_logging: None
) -> None:
    """The HTTP client logs each retry at WARNING with the URL it asked, which for the records
    API holds the MCP ID or the address looked up."""
    records = {
        "source": "http",
        "http": {"base_url": f"http://127.0.0.1:{_closed_port()}", "retries": 2,
                 "timeout_seconds": 0.5},
    }  # fmt: skip
    desk.env["TRIAGE_CONFIG"] = str(app_yaml(tmp_path, section="records", **records))
    ran = desk.cli("ingest", "eml", desk.file(HER_MAIL))
    assert ran.code == 0, ran.err
    assert "1 stored" in ran.out  # taken in for a person, the records unreadable
    assert_private(ran.err)


def test_metrics_carry_no_personal_data(desk: Mailroom, engine: Engine) -> None:
    for raw in (HER_MAIL, STRANGER_MAIL):
        desk.take(raw)
    desk.deliver()
    server = start_metrics_server(engine)
    try:
        text = requests.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
    assert "triage_tickets{" in text
    assert_private(text)


def test_classify_json_masks_codes_and_reads_no_records(desk: Mailroom) -> None:
    ran = desk.cli("classify", "--json", "-", stdin=HER_MAIL.decode().split("\r\n\r\n", 1)[1])
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)
    assert result["entities"]["voucher_codes"] == ["****-7q2k"]
    assert "9f3d" not in ran.out.lower()
    for fact in ("2026-04-02", "owed", "Ananya", "pass"):  # nothing from her record
        assert fact not in ran.out


def test_an_mta_pipes_temporary_failure_names_nobody(desk: Mailroom, tmp_path: Path) -> None:
    """`triage ingest stdin` exits 75 when it cannot store a message, and the MTA writes what it
    said to its own log (Postfix: "status=deferred (... Command output: ...)"): it quoted the
    database error whole, with the statement's parameters, so the message's sender, subject,
    body and code landed in the mail log."""
    database = tmp_path / "readonly.db"
    desk.env["DATABASE_URL"] = f"sqlite:///{database}"
    assert desk.cli("db", "upgrade").code == 0
    desk.env["DATABASE_URL"] = f"sqlite:///file:{database}?mode=ro&uri=true"
    ran = desk.cli("ingest", "stdin", stdin=HER_MAIL.decode())
    assert ran.code == 75
    assert "retry later" in ran.err and len(ran.err.strip().splitlines()) == 1
    assert_private(ran.err + ran.out)
