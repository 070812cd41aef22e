"""IMAP polling against a real Dovecot on loopback: nothing lost, nothing taken twice."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from imap_tools import MailBoxUnencrypted
from pydantic import SecretStr
from sqlalchemy import func, select, update

from bot.config.settings import Settings
from bot.store.models import Message, utcnow
from bot.store.models.mail import ImapClaim, ImapMailbox, QuarantinedMessage
from bot.types import InboundMessage, IntakeOutcome
from handlers.email import imap
from handlers.email.intake import Intake
from handlers.email.jobs import jobs
from tests.email.conftest import ROOT, Dovecot, corpus


def numbered(n: int) -> bytes:
    return corpus("plain-voucher.eml").replace(b"plain-voucher-1@", f"imap-{n}@".encode())


def count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


def poll(dovecot_account, sessions, settings, intake, **kwargs):  # type: ignore[no-untyped-def]
    return imap.poll_once(
        account=dovecot_account, sessions=sessions, settings=settings, intake=intake, **kwargs
    )


def test_poll_takes_each_message_once_and_moves_it_out_of_the_inbox(
    dovecot: Dovecot, sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(account, numbered(1), corpus("latin1.eml"), corpus("not-mail.bin"))

    first = poll(account, sessions, settings, intake)
    assert sorted(r.status for r in first.taken) == ["quarantined", "stored", "stored"]
    assert dovecot.folder_counts(account) == {"INBOX": 0, "Processed": 2, "Quarantine": 1}
    assert count(db, Message) == 2 and count(db, QuarantinedMessage) == 1

    second = poll(account, sessions, settings, intake)
    assert second.taken == [] and count(db, Message) == 2

    dovecot.append(account, numbered(1))  # the same message delivered again
    third = poll(account, sessions, settings, intake)
    assert [r.status for r in third.taken] == ["duplicate"]
    assert count(db, Message) == 2
    assert dovecot.folder_counts(account)["INBOX"] == 0


def test_two_pollers_at_once_take_each_message_once(
    dovecot: Dovecot, sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(account, *(numbered(n) for n in range(30)))
    start = threading.Barrier(2)
    results: dict[str, imap.PollResult] = {}
    errors: list[BaseException] = []

    def poller(name: str) -> None:
        try:
            start.wait()
            results[name] = poll(account, sessions, settings, intake, worker=name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poller, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    taken = [r for result in results.values() for r in result.taken]
    assert sorted(r.external_id or "" for r in taken if r.status == "stored") == sorted(
        f"<imap-{n}@mail.example.com>" for n in range(30)
    )
    assert count(db, Message) == 30 and count(db, ImapClaim) == 30
    assert dovecot.folder_counts(account) == {"INBOX": 0, "Processed": 30, "Quarantine": 0}


class Killed(BaseException):
    """Stands in for the process dying: not an Exception, so nothing catches it."""


def dying_after(n: int, intake: Intake) -> Intake:
    calls = [0]

    def take_in(session, message: InboundMessage, *, now=None) -> IntakeOutcome:  # type: ignore[no-untyped-def]
        calls[0] += 1
        outcome = intake(session, message, now=now)
        if calls[0] > n:
            raise Killed  # mid-transaction: the message was written but not committed
        return outcome

    return take_in


def test_poller_killed_mid_batch_loses_nothing_and_restarts_cleanly(
    dovecot: Dovecot, sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(account, *(numbered(n) for n in range(6)))

    with pytest.raises(Killed):  # batches of two: the first is committed, the second is not
        poll(account, sessions, settings, dying_after(2, intake), batch_size=2)
    assert count(db, Message) == 2
    assert dovecot.folder_counts(account)["INBOX"] == 4
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(
        account.username, account.password
    ) as box:
        assert box.uids("SEEN") == []  # fetched with BODY.PEEK: nothing marked read

    restarted = poll(account, sessions, settings, intake)
    assert [r.status for r in restarted.taken] == ["stored"] * 4
    assert count(db, Message) == 6 and count(db, ImapClaim) == 6
    assert dovecot.folder_counts(account) == {"INBOX": 0, "Processed": 6, "Quarantine": 0}


def test_crash_between_commit_and_move_is_finished_without_taking_it_again(
    dovecot: Dovecot, sessions, settings, intake, db, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(account, numbered(1), numbered(2))

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Killed

    monkeypatch.setattr(imap, "_finish", crash)
    with pytest.raises(Killed):  # the batch of both is committed, then the poller dies
        poll(account, sessions, settings, intake)
    monkeypatch.undo()
    assert count(db, Message) == 2 and dovecot.folder_counts(account)["INBOX"] == 2

    again = poll(account, sessions, settings, intake)
    assert again.finished == 2 and again.taken == []
    assert count(db, Message) == 2
    assert dovecot.folder_counts(account) == {"INBOX": 0, "Processed": 2, "Quarantine": 0}


def test_uidvalidity_is_remembered_and_a_change_is_noticed(
    dovecot: Dovecot, sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(account, numbered(1))
    result = poll(account, sessions, settings, intake)
    row = db.scalar(select(ImapMailbox).where(ImapMailbox.key == account.key))
    assert row is not None and row.uidvalidity == result.uidvalidity and row.changed_count == 0

    with sessions() as session, session.begin():  # as if the server had rebuilt the mailbox
        session.execute(update(ImapMailbox).values(uidvalidity=1))
    dovecot.append(account, numbered(1), numbered(2))
    again = poll(account, sessions, settings, intake)
    db.expire_all()
    assert db.scalar(select(ImapMailbox.changed_count)) == 1
    assert sorted(r.status for r in again.taken) == ["duplicate", "stored"]
    assert count(db, Message) == 2


def test_cli_polls_once(triage, dovecot: Dovecot, sessions, db) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(account, numbered(1), corpus("out-of-office.eml"))
    env = {
        "IMAP_HOST": dovecot.host,
        "IMAP_PORT": str(dovecot.port),
        "IMAP_SSL": "false",
        "IMAP_USERNAME": account.username,
        "IMAP_PASSWORD": dovecot.password,
    }
    result = triage(["ingest", "imap", "--once", "--json"], env)
    assert result.returncode == 0, result.stderr.decode()
    assert b'"noise": "auto-reply"' in result.stdout
    assert count(db, Message) == 2


def test_cli_reports_an_unreachable_imap_server_in_one_line(triage, sessions) -> None:  # type: ignore[no-untyped-def]
    env = {
        "IMAP_HOST": "127.0.0.1",
        "IMAP_PORT": "9",
        "IMAP_SSL": "false",
        "IMAP_USERNAME": "x",
        "IMAP_PASSWORD": "y",
    }
    result = triage(["ingest", "imap", "--once"], env)
    assert result.returncode == 2
    assert b"IMAP 127.0.0.1:9" in result.stderr and b"Traceback" not in result.stderr


def test_poll_runs_as_a_worker_job(dovecot: Dovecot, sessions, settings, db) -> None:  # type: ignore[no-untyped-def]
    assert jobs(settings) == []  # no IMAP_HOST: no job
    account = dovecot.account()
    env = settings.env.model_copy(
        update={
            "imap_host": dovecot.host,
            "imap_port": dovecot.port,
            "imap_ssl": False,
            "imap_username": account.username,
            "imap_password": None,
        }
    )
    env.imap_password = SecretStr(dovecot.password)
    [job] = jobs(Settings(env, settings.app))
    dovecot.append(account, numbered(1), numbered(2))
    assert (
        job.run(sessions, utcnow()) == f"imap {account.key}: 2 stored, 0 duplicate, 0 quarantined"
    )
    assert count(db, Message) == 2


def test_poller_process_killed_with_sigkill_loses_nothing(
    dovecot: Dovecot, database_url, sessions, settings, intake, db
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    total = 20
    dovecot.append(account, *(numbered(n) for n in range(total)))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TRIAGE_CONFIG": str(ROOT / "app.yaml"),
        "IMAP_HOST": dovecot.host,
        "IMAP_PORT": str(dovecot.port),
        "IMAP_SSL": "false",
        "IMAP_USERNAME": account.username,
        "IMAP_PASSWORD": dovecot.password,
    }
    cli = [sys.executable, "-c", "from bot.cli import main; main()", "ingest", "imap"]
    poller = subprocess.Popen(
        [*cli, "--once", "--batch-size", "2"],  # batches of two: it dies between commits
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while poller.poll() is None and time.monotonic() < deadline:
        if count(db, Message) >= 3:
            poller.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    poller.wait(timeout=30)
    assert poller.returncode == -signal.SIGKILL, "the poller finished before it could be killed"
    killed_at = count(db, Message)
    assert killed_at < total

    # Restarted once the dead poller's claims are stale (another poller's fresh claim is left to
    # it, since two MOVEs of one message can leave two copies).
    later = utcnow() + imap.CLAIM_STALE + timedelta(seconds=1)
    restarted = poll(account, sessions, settings, intake, now=lambda: later)
    assert count(db, Message) == total
    assert len([r for r in restarted.taken if r.status == "stored"]) == total - killed_at
    folders = dovecot.folder_counts(account)
    # A kill inside the server's MOVE (copy, then expunge) can leave a second copy in Processed;
    # what counts is that the inbox is empty and the database holds every message once.
    assert folders["INBOX"] == 0 and folders["Quarantine"] == 0
    assert folders["Processed"] >= total
