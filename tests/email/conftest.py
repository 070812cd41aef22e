"""Email fixtures: the corpus, the intake, an SMTP sink, and a real Dovecot IMAP server on
loopback (started once per run from a throwaway config; skipped only when not installed)."""

import grp
import io
import pwd
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

from bot.cli import main
from bot.config.settings import Settings
from handlers.email.imap import ImapAccount
from handlers.email.intake import Intake, core_intake
from handlers.email.sink import Sink, local_smtp_sink
from tests.email.dovecot_server import DOVECOT, DovecotServer

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "email"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.fixture
def intake(settings: Settings) -> Intake:
    return core_intake(settings)


@dataclass
class CliResult:
    returncode: int
    stdout: bytes
    stderr: bytes


Cli = Callable[..., CliResult]


@pytest.fixture
def triage(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes], database_url: str
) -> Cli:
    """Run the real CLI in-process: `triage(["ingest", "eml", path], env={...}, stdin=b"...")`."""

    def run(args: list[str], env: dict[str, str] | None = None, stdin: bytes = b"") -> CliResult:
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("TRIAGE_CONFIG", str(ROOT / "app.yaml"))
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsysbinary.readouterr()
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsysbinary.readouterr()
        return CliResult(code, out.out, out.err)

    return run


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    with local_smtp_sink() as sink:
        yield sink


@pytest.fixture
def mail_settings(settings: Settings, smtp_sink: Sink) -> Settings:
    """The test settings with SMTP pointed at the sink."""
    env = settings.env.model_copy(update={"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port})
    return Settings(env, settings.app)


@dataclass
class Dovecot:
    host: str
    port: int
    password: str

    def account(self, user: str | None = None) -> ImapAccount:
        """A fresh, empty mailbox: any user name logs in, so each test gets its own."""
        return ImapAccount(
            host=self.host,
            port=self.port,
            username=user or f"u{uuid.uuid4().hex[:10]}",
            password=self.password,
            ssl=False,
        )

    def append(self, account: ImapAccount, *messages: bytes) -> None:
        with MailBoxUnencrypted(self.host, self.port).login(
            account.username, account.password
        ) as box:
            for raw in messages:
                box.append(raw, "INBOX")

    def folder_counts(self, account: ImapAccount) -> dict[str, int]:
        with MailBoxUnencrypted(self.host, self.port).login(
            account.username, account.password
        ) as box:
            return {
                f.name: int(box.folder.status(f.name, ["MESSAGES"])["MESSAGES"])
                for f in box.folder.list()
            }


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/services.sh)")
    try:
        pwd.getpwnam("dovecot"), grp.getgrnam("dovecot")
    except KeyError:
        pytest.skip("dovecot is installed but its 'dovecot' user is missing")
    server = DovecotServer()
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield Dovecot(host=server.host, port=server.port, password=server.password)
    finally:
        server.stop()
