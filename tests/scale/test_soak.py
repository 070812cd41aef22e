"""The short soak with faults (bench/soak.py --short) passes: several processes on one
PostgreSQL lose and double nothing while processes are killed, Slack and SMTP fail and database
connections are terminated. PostgreSQL only (CI's second run); needs root for Dovecot."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.scale.conftest import ROOT


@pytest.mark.soak
def test_short_soak_loses_and_doubles_nothing(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the soak runs several processes on one PostgreSQL (TEST_DATABASE_URL)")
    if not (shutil.which("dovecot") or Path("/usr/sbin/dovecot").exists()) or os.geteuid() != 0:
        pytest.skip("the soak needs Dovecot (.ci/services.sh) and root")
    results = tmp_path / "RESULTS-soak.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--short",
         "--database-url", database_url, "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every check passed" in results.read_text()
