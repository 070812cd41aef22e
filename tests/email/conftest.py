"""Email fixtures: the corpus, the intake, an SMTP sink, and a real Dovecot IMAP server on
loopback (started once per run from a throwaway config; skipped only when not installed)."""

import grp
import io
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

from bot.cli import main
from bot.settings import Settings
from handlers.email.imap import ImapAccount
from handlers.email.intake import Intake, core_intake
from handlers.email.sink import Sink, free_port, local_smtp_sink

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "email"
DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)


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


CONFIG = """\
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
base_dir = {dir}/run
state_dir = {dir}/run
log_path = {dir}/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{dir}/home/%u/Maildir
first_valid_uid = 1
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd; .ci/services.sh)")
    try:
        uid, gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
    except KeyError:
        pytest.skip("dovecot is installed but its 'dovecot' user is missing")
    # Not under pytest's tmp dir: that is private to root (0700), and Dovecot's mail processes
    # run as the dovecot user, which must reach the mail home.
    base = Path(tempfile.mkdtemp(prefix="triage-dovecot-"))
    (base / "run").mkdir()
    (base / "home").mkdir()
    os.chown(base / "home", uid, gid)
    os.chmod(base, 0o755)
    port, password = free_port(), uuid.uuid4().hex
    config = base / "dovecot.conf"
    config.write_text(CONFIG.format(dir=base, password=password, uid=uid, gid=gid, port=port))
    # The master daemonises; its output goes to the log file, never to a pipe we would wait on.
    with open(base / "start.log", "wb") as output:
        started = subprocess.run(
            [DOVECOT, "-c", str(config)], stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    if started.returncode != 0:
        pytest.fail(f"dovecot did not start: {(base / 'start.log').read_text(errors='replace')}")
    try:
        _wait_for_port(port, log=base / "dovecot.log")
        yield Dovecot(host="127.0.0.1", port=port, password=password)
    finally:
        subprocess.run(
            [DOVECOT, "-c", str(config), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_port(port: int, *, log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    detail = log.read_text()[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"dovecot did not listen on {port}: {detail}")
