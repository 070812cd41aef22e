"""Where raw messages come from besides IMAP: Maildir and mbox folders, .eml files, a pipe.
Each yields (origin, raw bytes); nothing here touches the database."""

import mailbox
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from bot.errors import UserError


def from_maildir(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every message in a Maildir (new/ and cur/), oldest file name first; the folder is read,
    never changed: intake is idempotent, so reading it again stores nothing twice."""
    if not (path / "cur").is_dir() and not (path / "new").is_dir():
        raise UserError(f"{path} is not a Maildir (no cur/ or new/ folder)")
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.iterkeys()):
        yield f"maildir:{path}/{key}", box.get_bytes(key)


def from_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    if not path.is_file():
        raise UserError(f"{path} is not an mbox file")
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for index, key in enumerate(box.iterkeys()):
            yield f"mbox:{path}#{index}", box.get_bytes(key)
    finally:
        box.close()


def from_files(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"no such file: {', '.join(missing)}")
    for path in paths:
        yield f"file:{path}", path.read_bytes()


def from_stream(stream: BinaryIO) -> tuple[str, bytes]:
    return "stdin", stream.read()
