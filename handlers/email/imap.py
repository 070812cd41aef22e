"""IMAP polling with imap-tools: nothing lost, nothing taken twice.

The messages in the folder are taken by the batch (`email.batch_size` messages, or what was
fetched within `email.batch_seconds`), by UID: skip those already claimed; fetch the rest with
BODY.PEEK (never marking them seen); in ONE transaction insert the batch's claim rows (unique on
mailbox, UIDVALIDITY, UID) and take its messages in; commit; only then move them to the processed
folder (or the quarantine folder), or flag them `$Triaged` when no processed folder is configured.

- Two pollers: the second's claim insert waits for the first's transaction and then finds the
  rows, so it takes none of them. A crash before the commit rolls the claims back with the
  messages, so the batch is simply taken on the next poll; a crash after the commit but before
  the move is finished by the next poll (the claims are there, the messages are only moved).
- UIDVALIDITY is remembered per mailbox; when the server changes it, UIDs start over, and
  intake's idempotency on Message-ID keeps re-fetched messages from being stored twice.
"""

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from imap_tools import BaseMailBox, MailBox, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxFolderCreateError
from pydantic import BaseModel
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.errors import UserError
from bot.store.models.base import utcnow
from bot.store.models.mail import ImapClaim, ImapMailbox
from handlers.email.intake import Incoming, IngestResult, Intake, ingest_batch
from handlers.email.sources import batches

log = logging.getLogger(__name__)
TRIAGED = "$Triaged"


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    ssl: bool = True

    @property
    def key(self) -> str:
        return f"{self.username}@{self.host}:{self.port}/{self.folder}"


def account_from_settings(settings: Settings, *, folder: str | None = None) -> ImapAccount:
    env = settings.env
    if not env.imap_host or not env.imap_username:
        raise UserError("IMAP is not configured: set IMAP_HOST, IMAP_USERNAME and IMAP_PASSWORD")
    return ImapAccount(
        host=env.imap_host,
        port=env.imap_port,
        username=env.imap_username,
        password=env.imap_password.get_secret_value() if env.imap_password else "",
        folder=folder or env.imap_folder,
        ssl=env.imap_ssl,
    )


class RawMailMessage(MailMessage):
    """imap-tools' message that also keeps the bytes as the server sent them."""

    def __init__(self, fetch_data: list) -> None:  # type: ignore[type-arg]
        self.raw: bytes = self._get_message_data_parts(fetch_data)[0]
        super().__init__(fetch_data)


def connect(account: ImapAccount) -> BaseMailBox:
    box: BaseMailBox = (
        MailBox(account.host, account.port, timeout=60)
        if account.ssl
        else MailBoxUnencrypted(account.host, account.port, timeout=60)
    )
    box.email_message_class = RawMailMessage
    return box.login(account.username, account.password, initial_folder=account.folder)


class PollResult(BaseModel):
    mailbox: str
    uidvalidity: int
    taken: list[IngestResult] = []
    skipped: int = 0  # claimed by another poller
    finished: int = 0  # stored earlier, moved now


def remember_uidvalidity(session: Session, *, key: str, uidvalidity: int) -> bool:
    """Store the mailbox's UIDVALIDITY; True when it changed since the last poll. Writes before
    it reads, so concurrent pollers on SQLite queue for the lock instead of failing."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(ImapMailbox)
        .values(key=key, uidvalidity=uidvalidity, changed_count=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.scalar(select(ImapMailbox).where(ImapMailbox.key == key))
    assert row is not None
    row.updated_at = utcnow()
    if row.uidvalidity == uidvalidity:
        return False
    row.uidvalidity, row.changed_count = uidvalidity, row.changed_count + 1
    return True


def claim_uids(
    session: Session, *, key: str, uidvalidity: int, uids: list[int], worker: str
) -> set[int]:
    """Insert the claim rows (in UID order, so two pollers never wait on each other in a
    circle); the UIDs claimed now, without those another poller has (or had)."""
    if not uids:
        return set()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ImapClaim.__table__)
        .on_conflict_do_nothing(index_elements=["mailbox", "uidvalidity", "uid"])
        .returning(ImapClaim.__table__.c.uid)
    )
    claimed_at = utcnow()
    rows = [
        {"mailbox": key, "uidvalidity": uidvalidity, "uid": uid, "outcome": "claimed",
         "claimed_by": worker, "claimed_at": claimed_at}
        for uid in sorted(set(uids))
    ]  # fmt: skip
    return set(session.execute(statement, rows).scalars())


def ensure_folder(box: BaseMailBox, folder: str) -> None:
    """Create `folder` unless it exists; another poller creating it at the same time is fine."""
    if box.folder.exists(folder):
        return
    try:
        box.folder.create(folder)
    except MailboxFolderCreateError:
        if not box.folder.exists(folder):
            raise


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


CLAIM_STALE = timedelta(minutes=2)


def poll_once(
    *,
    account: ImapAccount,
    sessions: sessionmaker[Session],
    settings: Settings,
    intake: Intake,
    worker: str | None = None,
    limit: int | None = None,
    now: Callable[[], datetime] = utcnow,
    batch_size: int | None = None,
) -> PollResult:
    """Take in every message waiting in the account's folder (at most `limit`)."""
    worker = worker or worker_id()
    config = settings.app.email
    processed, quarantine_folder = config.processed_folder, config.quarantine_folder
    with connect(account) as box:
        uidvalidity = int(box.folder.status(account.folder, ["UIDVALIDITY"])["UIDVALIDITY"])
        with sessions() as session, session.begin():
            if remember_uidvalidity(session, key=account.key, uidvalidity=uidvalidity):
                log.warning("UIDVALIDITY of %s changed to %s", account.key, uidvalidity)
        for folder in sorted({processed, quarantine_folder} - {"", account.folder}):
            ensure_folder(box, folder)
        criteria = "ALL" if processed else f"UNKEYWORD {TRIAGED}"
        uids = [int(uid) for uid in box.uids(criteria)][:limit]
        result = PollResult(mailbox=account.key, uidvalidity=uidvalidity)
        with sessions() as session:
            claimed = {
                claim.uid: claim
                for claim in session.scalars(
                    select(ImapClaim).where(
                        ImapClaim.mailbox == account.key,
                        ImapClaim.uidvalidity == uidvalidity,
                        ImapClaim.uid.in_(uids),
                    )
                )
            }
        # Stored by an earlier poll that stopped before moving them. Another live poller may be
        # moving them right now: two MOVEs of one message can leave two copies, so only our own
        # claims or stale ones are finished here.
        unfinished = [
            (uid, claim.outcome)
            for uid, claim in claimed.items()
            if claim.finished_at is None
            and (claim.claimed_by == worker or claim.claimed_at < now() - CLAIM_STALE)
        ]
        if unfinished:
            _finish(box, sessions, account, uidvalidity, unfinished, settings)
            result.finished += len(unfinished)
        waiting = [uid for uid in uids if uid not in claimed]
        fetched = _fetch(box, account, uidvalidity, waiting)
        size = batch_size or config.batch_size
        weight = lambda item: len(item.raw)  # noqa: E731
        for batch in batches(fetched, size=size, seconds=config.batch_seconds, weight=weight):
            taken = _take(batch, sessions, account, uidvalidity, worker, settings, intake, now())
            done = []
            for incoming, outcome in zip(batch, taken, strict=True):
                if outcome is None:  # another poller claimed it first
                    result.skipped += 1
                    continue
                result.taken.append(outcome)
                done.append((incoming.handle, outcome.status))
            if done:
                _finish(box, sessions, account, uidvalidity, done, settings)
    return result


# Fetched with one IMAP command per this many messages (memory stays bounded).
FETCH_CHUNK = 50


def _fetch(
    box: BaseMailBox, account: ImapAccount, uidvalidity: int, uids: list[int]
) -> Iterator[Incoming]:
    """The messages by UID, with BODY.PEEK; one expunged meanwhile (moved by another poller) is
    left out."""
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = [str(uid) for uid in uids[start : start + FETCH_CHUNK]]
        for fetched in box.fetch(uid_list=chunk, mark_seen=False, bulk=True):
            uid = int(fetched.uid or 0)
            origin = f"imap:{account.key}#{uidvalidity}:{uid}"
            yield Incoming(origin, fetched.raw, handle=uid)  # type: ignore[attr-defined]


def _take(
    batch: list[Incoming],
    sessions: sessionmaker[Session],
    account: ImapAccount,
    uidvalidity: int,
    worker: str,
    settings: Settings,
    intake: Intake,
    now: datetime,
) -> list[IngestResult | None]:
    def claim(session: Session, incoming: Sequence[Incoming]) -> list[bool]:
        uids = [item.handle for item in incoming]
        got = claim_uids(
            session, key=account.key, uidvalidity=uidvalidity, uids=uids, worker=worker
        )
        return [uid in got for uid in uids]

    def report(session: Session, taken: list[tuple[Incoming, IngestResult]]) -> None:
        if not taken:
            return
        claims = ImapClaim.__table__
        session.execute(
            update(claims)
            .where(
                claims.c.mailbox == account.key,
                claims.c.uidvalidity == uidvalidity,
                claims.c.uid == bindparam("claimed_uid"),
            )
            .values(outcome=bindparam("status"), message_id=bindparam("taken_id")),
            [
                {"claimed_uid": item.handle, "status": r.status, "taken_id": r.message_id}
                for item, r in taken
            ],
        )

    return ingest_batch(
        sessions, batch, settings=settings, intake=intake, now=now, claim=claim, report=report
    )


def _finish(
    box: BaseMailBox,
    sessions: sessionmaker[Session],
    account: ImapAccount,
    uidvalidity: int,
    taken: list[tuple[int, str]],
    settings: Settings,
) -> None:
    """Take the messages (UID, outcome) out of the polled folder, then note that they are done."""
    config = settings.app.email
    by_target: dict[str, list[str]] = {}
    for uid, outcome in taken:
        target = config.quarantine_folder if outcome == "quarantined" else config.processed_folder
        by_target.setdefault(target, []).append(str(uid))
    for target, uids in by_target.items():
        if target and target != account.folder:
            box.move(uids, target)
        else:
            box.client.uid("STORE", ",".join(uids), "+FLAGS", f"({TRIAGED})")
    with sessions() as session, session.begin():
        session.execute(
            update(ImapClaim)
            .where(
                ImapClaim.mailbox == account.key,
                ImapClaim.uidvalidity == uidvalidity,
                ImapClaim.uid.in_([uid for uid, _ in taken]),
                ImapClaim.finished_at.is_(None),
            )
            .values(finished_at=utcnow())
        )


def run(
    *,
    account: ImapAccount,
    sessions: sessionmaker[Session],
    settings: Settings,
    intake: Intake,
    interval: float = 60.0,
    once: bool = False,
    report: Callable[[PollResult], None] | None = None,
    batch_size: int | None = None,
) -> None:
    """Poll until stopped; a poll that fails (server down) is logged and retried next interval."""
    while True:
        try:
            result = poll_once(
                account=account, sessions=sessions, settings=settings, intake=intake,
                batch_size=batch_size,
            )  # fmt: skip
            if report is not None:
                report(result)
        except Exception as exc:
            if once:
                raise
            log.warning("IMAP poll of %s failed: %s: %s", account.key, type(exc).__name__, exc)
        if once:
            return
        time.sleep(interval)
