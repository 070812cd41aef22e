#!/usr/bin/env python3
"""The two quickstart commands, with nothing but Python and pip on the machine.

    python3 dev.py demo    # the bot on sample mail and Slack messages, embedded SQLite
    python3 dev.py test    # ruff, then the whole test suite (extra args go to pytest)
    python3 dev.py bench   # every benchmark at short sizes (--full: the targets' sizes)

Both create `.venv` and install the project on first use, again when what the install reads
changes (pyproject.toml, or setup.py and the C sources of the compiled parts).
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
INSTALL_INPUTS = ("pyproject.toml", "setup.py", "bot/matching/_scoring.c", "bot/text/_sentences.c")


def ensure_venv() -> None:
    digest = hashlib.sha256()
    for name in INSTALL_INPUTS:
        digest.update((ROOT / name).read_bytes())
    wanted = digest.hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    print("installing the project and its test tools into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*args: str) -> int:
    return subprocess.run(args, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "bench"}:
        print(__doc__)
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "demo":
        return run(str(BIN / "triage"), "demo", *rest)
    if command == "bench":
        return run(str(BIN / "python"), "bench/run_all.py", *rest)
    lint = run(str(BIN / "ruff"), "check", ".")
    tests = run(str(BIN / "python"), "-m", "pytest", *rest)
    return tests or lint


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
