"""A throwaway Dovecot IMAP server on loopback, from the configuration TESTING-NOTES.md records:
the email tests' fixture and the soak both run one. Needs root (as CI runs) and the
`dovecot-imapd` package (`.ci/services.sh` installs it)."""

import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from handlers.email.sink import free_port

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)

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


class DovecotServer:
    """Start with `start()`, stop (and remove its files) with `stop()`. Any user name logs in
    with `password`."""

    def __init__(self) -> None:
        if DOVECOT is None:
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        self.host, self.port, self.password = "127.0.0.1", free_port(), uuid.uuid4().hex
        # Not under pytest's tmp dir: that is private to root (0700), and Dovecot's mail
        # processes run as the dovecot user, which must reach the mail home.
        self.base = Path(tempfile.mkdtemp(prefix="triage-dovecot-"))
        self.config = self.base / "dovecot.conf"

    def start(self) -> "DovecotServer":
        uid, gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
        (self.base / "run").mkdir()
        (self.base / "home").mkdir()
        os.chown(self.base / "home", uid, gid)
        os.chmod(self.base, 0o755)
        self.config.write_text(
            CONFIG.format(dir=self.base, password=self.password, uid=uid, gid=gid, port=self.port)
        )
        # The master daemonises; its output goes to a log file, never to a pipe we would wait on.
        start_log = self.base / "start.log"
        with open(start_log, "wb") as output:
            started = subprocess.run(
                [DOVECOT, "-c", str(self.config)], stdin=subprocess.DEVNULL, stdout=output,
                stderr=output,
            )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"dovecot did not start: {start_log.read_text(errors='replace')}")
        self._wait_until_listening()
        return self

    def stop(self) -> None:
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                 "stderr": subprocess.DEVNULL}  # fmt: skip
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], timeout=30, **quiet)  # type: ignore[list-item]
        shutil.rmtree(self.base, ignore_errors=True)

    def _wait_until_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex((self.host, self.port)) == 0:
                    return
            time.sleep(0.05)
        log = self.base / "dovecot.log"
        detail = log.read_text()[-2000:] if log.exists() else "(no log)"
        raise RuntimeError(f"dovecot did not listen on {self.port}: {detail}")
