"""Where raw messages come from besides IMAP: Maildir and mbox folders, .eml files, a pipe.
Each yields (origin, raw bytes); `batches` groups any of them (IMAP's too) into the batches intake
takes in one transaction each. Nothing here touches the database."""

import mailbox
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from bot.errors import UserError

T = TypeVar("T")
# However many messages a batch may hold, its raw bytes stay within this (memory, not speed).
BATCH_BYTES = 64 * 1024 * 1024


def batches(
    items: Iterable[T],
    *,
    size: int,
    seconds: float,
    weight: Callable[[T], int] = lambda item: 0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[list[T]]:
    """Consecutive batches of `items`: a batch closes at `size` items, at `BATCH_BYTES` of
    `weight`, or once `seconds` have passed since its first item arrived, whichever is first
    (a slow source still has its mail taken in promptly)."""
    batch: list[T] = []
    started, held = 0.0, 0
    for item in items:
        if not batch:
            started, held = clock(), 0
        batch.append(item)
        held += weight(item)
        if len(batch) >= size or held >= BATCH_BYTES or clock() - started >= seconds:
            yield batch
            batch = []
    if batch:
        yield batch


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
