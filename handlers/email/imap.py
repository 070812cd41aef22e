"""IMAP polling with imap-tools: nothing lost, nothing taken twice.

For each message in the folder, by UID: skip it if it is already claimed; fetch it with
BODY.PEEK (never marking it seen); in ONE transaction insert the claim row (unique on mailbox,
UIDVALIDITY, UID) and take the message in; commit; only then move it to the processed folder
(or the quarantine folder), or flag it `$Triaged` when no processed folder is configured.

- Two pollers: the second's claim insert waits for the first's transaction and then finds the
  row, so it does nothing. A crash before the commit rolls the claim back with the message, so
  the message is simply taken on the next poll; a crash after the commit but before the move is
  finished by the next poll (the claim is there, the message is only moved).
- UIDVALIDITY is remembered per mailbox; when the server changes it, UIDs start over, and
  intake's idempotency on Message-ID keeps re-fetched messages from being stored twice.
"""

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from imap_tools import BaseMailBox, MailBox, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxFolderCreateError
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.errors import UserError
from bot.store.models.base import utcnow
from bot.store.models.mail import ImapClaim, ImapMailbox
from handlers.email.intake import IngestResult, Intake, ingest_message

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


def claim_uid(session: Session, *, key: str, uidvalidity: int, uid: int, worker: str) -> bool:
    """Insert the claim row; False when another poller has (or had) this message."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ImapClaim)
        .values(
            mailbox=key,
            uidvalidity=uidvalidity,
            uid=uid,
            outcome="claimed",
            claimed_by=worker,
            claimed_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["mailbox", "uidvalidity", "uid"])
        .returning(ImapClaim.id)
    )
    return session.execute(statement).scalar() is not None


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
) -> PollResult:
    """Take in every message waiting in the account's folder (at most `limit`)."""
    worker = worker or worker_id()
    processed = settings.app.email.processed_folder
    quarantine_folder = settings.app.email.quarantine_folder
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
        for uid in uids:
            if uid in claimed:  # stored by an earlier poll that stopped before moving it
                claim = claimed[uid]
                # Another live poller may be moving it right now: two MOVEs of one message can
                # leave two copies, so only our own claims or stale ones are finished here.
                mine = claim.claimed_by == worker or claim.claimed_at < now() - CLAIM_STALE
                if claim.finished_at is None and mine:
                    _finish(
                        box, sessions, account, uidvalidity, uid, claimed[uid].outcome, settings
                    )
                    result.finished += 1
                continue
            fetched = next(iter(box.fetch(uid_list=[str(uid)], mark_seen=False)), None)
            if fetched is None:  # expunged meanwhile (e.g. moved by another poller)
                continue
            taken = _take(
                fetched.raw, sessions, account, uidvalidity, uid, worker, settings, intake, now()
            )  # type: ignore[attr-defined]
            if taken is None:
                result.skipped += 1
                continue
            result.taken.append(taken)
            _finish(box, sessions, account, uidvalidity, uid, taken.status, settings)
    return result


def _take(
    raw: bytes,
    sessions: sessionmaker[Session],
    account: ImapAccount,
    uidvalidity: int,
    uid: int,
    worker: str,
    settings: Settings,
    intake: Intake,
    now: datetime,
) -> IngestResult | None:
    def claim(session: Session) -> bool:
        return claim_uid(session, key=account.key, uidvalidity=uidvalidity, uid=uid, worker=worker)

    def after(session: Session, taken: IngestResult) -> None:
        row = session.scalar(
            select(ImapClaim).where(
                ImapClaim.mailbox == account.key,
                ImapClaim.uidvalidity == uidvalidity,
                ImapClaim.uid == uid,
            )
        )
        assert row is not None
        row.outcome, row.message_id = taken.status, taken.message_id

    origin = f"imap:{account.key}#{uidvalidity}:{uid}"
    return ingest_message(
        sessions,
        raw,
        settings=settings,
        intake=intake,
        origin=origin,
        now=now,
        claim=claim,
        after=after,
    )


def _finish(
    box: BaseMailBox,
    sessions: sessionmaker[Session],
    account: ImapAccount,
    uidvalidity: int,
    uid: int,
    outcome: str,
    settings: Settings,
) -> None:
    """Take the message out of the polled folder, then note that it is done."""
    config = settings.app.email
    target = config.quarantine_folder if outcome == "quarantined" else config.processed_folder
    if target and target != account.folder:
        box.move(str(uid), target)
    else:
        box.client.uid("STORE", str(uid), "+FLAGS", f"({TRIAGED})")
    with sessions() as session, session.begin():
        session.execute(
            update(ImapClaim)
            .where(
                ImapClaim.mailbox == account.key,
                ImapClaim.uidvalidity == uidvalidity,
                ImapClaim.uid == uid,
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
) -> None:
    """Poll until stopped; a poll that fails (server down) is logged and retried next interval."""
    while True:
        try:
            result = poll_once(account=account, sessions=sessions, settings=settings, intake=intake)
            if report is not None:
                report(result)
        except Exception as exc:
            if once:
                raise
            log.warning("IMAP poll of %s failed: %s: %s", account.key, type(exc).__name__, exc)
        if once:
            return
        time.sleep(interval)
