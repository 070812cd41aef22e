"""What the soak runs around the bot: a Dovecot mailbox, an SMTP server that can be taken down,
the Slack Web API stand-in (the Slack tests' `FakeSlack`), and the bot's own processes, each of
which can be SIGKILLed and restarted."""

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from imap_tools import MailBoxUnencrypted

ROOT = Path(__file__).resolve().parents[1]
DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)

# The configuration TESTING-NOTES.md records (as the email tests' fixture uses it).
DOVECOT_CONFIG = """\
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


class Dovecot:
    """A throwaway Dovecot IMAP server on loopback (root needed, as in CI)."""

    def __init__(self) -> None:
        if DOVECOT is None:
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        self.port, self.password = free_port(), uuid.uuid4().hex
        self.user = f"soak{uuid.uuid4().hex[:8]}"
        self.base = Path(tempfile.mkdtemp(prefix="triage-soak-dovecot-"))
        self.config = self.base / "dovecot.conf"

    def start(self) -> "Dovecot":
        uid, gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
        (self.base / "run").mkdir()
        (self.base / "home").mkdir()
        os.chown(self.base / "home", uid, gid)
        os.chmod(self.base, 0o755)
        self.config.write_text(
            DOVECOT_CONFIG.format(
                dir=self.base, password=self.password, uid=uid, gid=gid, port=self.port
            )
        )
        with open(self.base / "start.log", "wb") as output:
            subprocess.run([DOVECOT, "-c", str(self.config)], stdout=output, stderr=output,
                           stdin=subprocess.DEVNULL, check=True)  # fmt: skip
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        quiet = {
            "stdin": subprocess.DEVNULL,
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
        }
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], timeout=30, **quiet)
        shutil.rmtree(self.base, ignore_errors=True)

    def box(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port).login(self.user, self.password)

    def append(self, messages: list[bytes]) -> None:
        with self.box() as box:
            for raw in messages:
                box.append(raw, "INBOX")

    def inbox_count(self) -> int:
        with self.box() as box:
            return int(box.folder.status("INBOX", ["MESSAGES"])["MESSAGES"])


class SmtpServer:
    """An aiosmtpd server on a fixed port that can be taken down and brought back; counts what
    it receives by Message-ID."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: Counter[str] = Counter()
        self.first_at: dict[str, float] = {}
        self.texts: list[str] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        message_id = str(message.get("Message-ID", "")).strip()
        with self._lock:
            self.received[message_id] += 1
            self.first_at.setdefault(message_id, time.monotonic())
        return "250 OK"

    @property
    def up(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        for attempt in range(10):  # the port may linger for a moment after a stop
            controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=30)
            try:
                controller.start()
            except Exception:
                if attempt == 9:
                    raise
                time.sleep(0.5)
                continue
            self._controller = controller
            return

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class Proc:
    """One bot process: started, SIGKILLed and restarted; its output appended to one log."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", *self.args],
                env=self.env, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None
