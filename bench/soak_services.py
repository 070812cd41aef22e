"""What the soak runs around the bot: a Dovecot mailbox, an SMTP server that can be taken down,
the Slack Web API stand-in (the Slack tests' `FakeSlack`), and the bot's own processes, each of
which can be SIGKILLed and restarted."""

import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from imap_tools import MailBoxUnencrypted

from tests.email.dovecot_server import DovecotServer

ROOT = Path(__file__).resolve().parents[1]


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


class Dovecot(DovecotServer):
    """The soak's mailbox: a throwaway Dovecot on loopback with one user."""

    def __init__(self) -> None:
        super().__init__()
        self.user = f"soak{uuid.uuid4().hex[:8]}"

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
        self.killed_pids: list[int] = []  # to tell whose unfinished delivery a repeat was

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
            self.killed_pids.append(self.process.pid)

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
