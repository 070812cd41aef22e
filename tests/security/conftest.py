"""The attacker's bench: raw mail through the real CLI (`triage ingest eml`, then `triage worker
--once` delivering to an SMTP sink on loopback), and the desk's sample records to steal from.

Each test writes mail as an outsider would, byte for byte, and reads what the desk sent back to
whom, as the recipients see it."""

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main
from bot.records.importer import import_records
from handlers.email.sink import Sink, local_smtp_sink

# The Slack app served on loopback with the stand-in Web API (tests/slack), for the Slack attacks.
from tests.slack.conftest import fake_slack, served, slack, slack_settings  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
TRUSTED = "mx.desk.example.org"
# What the sample records say of Priya Raman (4012345), and who on the desk has her tickets.
PRIYA = "priya.raman@example.in"
PRIYA_SECRETS = ["Priya", "Raman", "4012345", "7Q2K", "owed", "2026-04-02", "Ananya", "pass"]
EMILY = "emily.carter@example.com"
EMILY_SECRETS = ["Emily", "Carter", "1034567", "P4VX", "any exam", "unredeemed"]


def mail(
    sender: str,
    body: str,
    *,
    msgid: str,
    subject: str = "Question",
    headers: str = "",
    charset: str = "utf-8",
) -> bytes:
    """A plain text message as a mail client writes it; `headers` go on top (CRLF-ended)."""
    return (
        f"{headers}From: {sender}\r\nTo: support@desk.example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{msgid}>\r\nDate: Mon, 23 Nov 2026 09:14:22 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\n{body}\r\n"
    ).encode()


@dataclass
class Ran:
    code: int
    out: str
    err: str


class Mailroom:
    """The desk as mail reaches it: each message a file fed to `triage ingest eml`, the outbox
    delivered by `triage worker --once` to the sink."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], folder: Path,
        env: dict[str, str], sink: Sink,
    ) -> None:  # fmt: skip
        self.monkeypatch, self.capsys, self.folder, self.env, self.sink = (
            monkeypatch, capsys, folder, env, sink,
        )  # fmt: skip
        self.count = 0

    def cli(self, *args: str, stdin: str = "") -> Ran:
        for key, value in self.env.items():
            self.monkeypatch.setenv(key, value)
        self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
        self.capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = self.capsys.readouterr()
        return Ran(code, out.out, out.err)

    def file(self, raw: bytes) -> str:
        """The message as an .eml file, as an operator (or an MTA's spool) would have it."""
        self.count += 1
        path = self.folder / f"in-{self.count}.eml"
        path.write_bytes(raw)
        return str(path)

    def take(self, raw: bytes) -> dict[str, Any]:
        """Ingest one raw message; its intake result."""
        ran = self.cli("ingest", "eml", self.file(raw), "--json")
        assert ran.code == 0, ran.err
        [result] = json.loads(ran.out)
        return result  # type: ignore[no-any-return]

    def deliver(self) -> Ran:
        ran = self.cli("worker", "--once")
        assert ran.code == 0, ran.err
        return ran

    def to(self, address: str) -> list[EmailMessage]:
        """What reached `address` (its envelope), as its mail client reads it."""
        sent = zip(self.sink.messages, self.sink.envelopes, strict=True)
        return [m for m, (_, rcpts) in sent if address in rcpts]

    def read(self, address: str) -> str:
        """Every header and text part that reached `address`, decoded."""
        texts = []
        for message in self.to(address):
            texts += [f"{k}: {v}" for k, v in message.items()]
            texts += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
        return "\n".join(texts)


def app_yaml(folder: Path, section: str = "email", **settings: Any) -> Path:
    """The shipped app.yaml with settings of one section (`email` by default) changed."""
    config = yaml.safe_load((ROOT / "app.yaml").read_text(encoding="utf-8"))
    config[section] = {**config.get(section, {}), **settings}
    path = folder / "app.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def records(sessions: sessionmaker[Session]) -> None:
    assert not import_records(sessions, [ROOT / "samples" / "records"]).errors


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    with local_smtp_sink() as sink:
        yield sink


def _mailroom(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    database_url: str, sink: Sink, config: Path,
) -> Mailroom:  # fmt: skip
    for name in ("IMAP_HOST", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "DATABASE_URL": database_url,
        "TRIAGE_CONFIG": str(config),
        "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
        "SMTP_HOST": sink.host,
        "SMTP_PORT": str(sink.port),
    }
    folder = tmp_path / "mail"
    folder.mkdir()
    return Mailroom(monkeypatch, capsys, folder, env, sink)


@pytest.fixture
def desk(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    database_url: str, smtp_sink: Sink, records: None,
) -> Mailroom:  # fmt: skip
    """A desk that takes its mail server's word for the From (no `trusted_authserv_id`)."""
    return _mailroom(monkeypatch, capsys, tmp_path, database_url, smtp_sink, ROOT / "app.yaml")


@pytest.fixture
def guarded_desk(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    database_url: str, smtp_sink: Sink, records: None,
) -> Mailroom:  # fmt: skip
    """A desk whose mail server's verdicts count (`email.trusted_authserv_id` set)."""
    config = app_yaml(tmp_path, trusted_authserv_id=TRUSTED)
    return _mailroom(monkeypatch, capsys, tmp_path, database_url, smtp_sink, config)
