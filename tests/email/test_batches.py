"""Mail taken in by the batch, through the real core: a batch leaves the database exactly as
taking its messages one at a time does, each message is taken once (twice in one batch, or again
in a later batch), a follow-up threads onto a parent in the same batch, and a message that fails
is quarantined alone while the rest of its batch is stored."""

import json
import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.matching.matcher import Matcher
from bot.ops.runtime import Runtime
from bot.records.importer import import_records
from bot.store.db import make_engine, session_factory, upgrade
from bot.store.models import Base, Message, Ticket, TicketEvent, TicketMessage
from bot.store.models.mail import AutoReply, ImapClaim, QuarantinedMessage
from bot.store.models.outbox import OutboxItem
from handlers.email import imap
from handlers.email.intake import Incoming, IngestResult, Intake, core_intake, ingest_batch
from tests.email.conftest import ROOT, Dovecot

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PRIYA = "Priya Raman <priya.raman@example.in>"
HANS = "Hans Mueller <hans.mueller@example.de>"
EMILY = "Emily Carter <emily.carter@example.com>"
KENTA = "Kenta Sato <kenta.sato@example.jp>"
OWED = "I took 71-621 and 71-622 in the beta but only one voucher came. MCP ID 4012345"


def mail(
    sender: str, subject: str, message_id: str, body: str, *, replies_to: str | None = None,
    headers: str = "",
) -> bytes:  # fmt: skip
    lines = [
        f"From: {sender}",
        "To: triage@desk.example.org",
        f"Subject: {subject}",
        "Date: Wed, 25 Nov 2026 09:00:00 +0000",
        f"Message-ID: <{message_id}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if replies_to:
        lines += [f"In-Reply-To: <{replies_to}>", f"References: <{replies_to}>"]
    if headers:
        lines.append(headers)
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def a_morning_of_mail() -> list[bytes]:
    """What a desk gets: candidates proven by their address, follow-ups and a thanks in the same
    thread, a stranger quoting someone's MCP id, an id that matches nobody, an auto-reply, the
    same mail twice, a reused Message-ID, and a sender looping past the automatic-reply limit."""
    loop = [
        mail("looper@example.org", f"voucher {n}", f"loop-{n}@example.org",
             f"My voucher for 71-621 has not arrived ({n}).")
        for n in range(7)
    ]  # fmt: skip
    return [
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
        mail(HANS, "Results", "hans-1@example.de",
             "When will the results of my beta exam 71-622 arrive? I took it on 1 October."),
        mail(EMILY, "Voucher", "emily-1@example.com",
             "I took the beta exam 71-621 at Prometric in September and still have no voucher."),
        mail(KENTA, "Voucher", "kenta-1@example.jp",
             "I took the 71-623 beta at Pearson VUE and never got the free voucher."),
        mail(PRIYA, "Re: Voucher", "priya-2@example.in",
             "Any news? This is my 3rd email about the voucher!", replies_to="priya-1@example.in"),
        mail(HANS, "Re: Results", "hans-2@example.de", "Thanks, that worked!",
             replies_to="hans-1@example.de"),
        mail("Someone <stranger@example.net>", "Voucher", "stranger-1@example.net",
             "My MCP ID is 4012345, where is my voucher for 71-621?"),
        mail("Nobody <nobody@example.net>", "Voucher", "nobody-1@example.net",
             "MCP ID 9999999: my voucher for the 71-621 beta never came."),
        mail(EMILY, "Automatic reply: Voucher", "emily-ooo@example.com",
             "I am out of the office until Monday.", replies_to="emily-1@example.com",
             headers="Auto-Submitted: auto-replied"),
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),  # the same mail delivered twice
        mail(KENTA, "Another question", "kenta-1@example.jp",  # a mailer reusing a Message-ID
             "Can I use my voucher for 70-620 instead?"),
        *loop,
        mail(EMILY, "Solved", "emily-2@example.com", "Thanks, that worked!"),  # no thread: hers
    ]  # fmt: skip


def take(
    sessions: sessionmaker[Session], settings: Settings, intake: Intake, raws: list[bytes],
    *, batch_size: int | None = None,
) -> list[IngestResult]:  # fmt: skip
    """Take `raws` in batches of `batch_size` (all at once by default), as the CLI does."""
    size = batch_size or len(raws)
    results: list[IngestResult] = []
    for start in range(0, len(raws), size):
        batch = [Incoming(f"test#{start + n}", raw) for n, raw in enumerate(raws[start:][:size])]
        taken = ingest_batch(sessions, batch, settings=settings, intake=intake, now=NOW)
        results += [result for result in taken if result is not None]
    return results


@pytest.fixture
def records(sessions: sessionmaker[Session]) -> None:
    assert not import_records(sessions, [ROOT / "samples" / "records"]).errors


@pytest.fixture
def another_database(tmp_path: Path) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'one-at-a-time.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    assert not import_records(sessions, [ROOT / "samples" / "records"]).errors
    yield engine, sessions
    engine.dispose()


# Set when written, not by the message: the wall clock of the insert or update.
UNCOMPARED = {("messages", "created_at"), ("tickets", "updated_at")}
TABLES = ("messages", "tickets", "ticket_events", "ticket_messages", "outbox", "auto_replies",
          "quarantined_messages", "bouncing_addresses")  # fmt: skip


def contents(sessions: sessionmaker[Session]) -> dict[str, list[dict[str, Any]]]:
    """Every row of the intake's tables, in key order, without the wall-clock columns."""
    dumped = {}
    with sessions() as session:
        for name in TABLES:
            table = Base.metadata.tables[name]
            rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            dumped[name] = [
                {k: v for k, v in row.items() if (name, k) not in UNCOMPARED} for row in rows
            ]
    return dumped


@pytest.mark.parametrize("batch_size", [None, 4])
def test_a_batch_stores_exactly_what_one_message_at_a_time_stores(
    sessions, settings, intake, records, another_database, batch_size
) -> None:  # type: ignore[no-untyped-def]
    raws = a_morning_of_mail()
    one_at_a_time = take(another_database[1], settings, intake, raws, batch_size=1)
    batched = take(sessions, settings, intake, raws, batch_size=batch_size)

    assert batched == one_at_a_time
    expected, got = contents(another_database[1]), contents(sessions)
    for name in TABLES:
        assert got[name] == expected[name], name
    # and the morning is what it should be
    assert [r.status for r in batched].count("duplicate") == 1
    assert [r.noise for r in batched].count("auto-reply-limit") == 2
    assert {r.noise for r in batched} == {None, "auto-submitted", "auto-reply-limit"}
    assert {row["kind"] for row in got["outbox"]} == {"reply", "escalation"}
    emily, thanked = batched[2], batched[-1]  # her thanks resolved the ticket of the same batch
    assert thanked.ticket_ids == emily.ticket_ids
    status = {row["id"]: row["status"] for row in got["tickets"]}
    assert status[emily.ticket_ids[0]] == "resolved"


def test_a_message_twice_in_one_batch_or_again_later_is_one_message(
    sessions, settings, intake, records, db
) -> None:  # type: ignore[no-untyped-def]
    first = mail(PRIYA, "Voucher", "priya-1@example.in", OWED)
    reused = mail(KENTA, "Voucher", "priya-1@example.in", "Can I use my voucher for 70-620?")
    batch = [first, first, reused, first]

    taken = take(sessions, settings, intake, batch)
    assert [r.status for r in taken] == ["stored", "duplicate", "stored", "duplicate"]
    assert taken[1].message_id == taken[3].message_id == taken[0].message_id
    assert taken[1].ticket_ids == taken[0].ticket_ids and not taken[1].replied
    assert taken[2].external_id == f"<priya-1@example.in>#{taken[2].external_id.split('#')[1]}"

    again = take(sessions, settings, intake, batch)
    assert [r.status for r in again] == ["duplicate"] * 4
    assert [r.message_id for r in again] == [r.message_id for r in taken]
    assert db.scalar(select(func.count(Message.id))) == 2
    replies = db.scalars(select(OutboxItem.dedupe_key).where(OutboxItem.kind == "reply")).all()
    assert sorted(replies) == sorted(f"reply:{r.message_id}" for r in taken[::2])
    assert db.scalar(select(func.count(AutoReply.id))) == 2


def test_follow_ups_in_the_same_batch_thread_onto_their_parents_ticket(
    sessions, settings, intake, records, db
) -> None:  # type: ignore[no-untyped-def]
    batch = [
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
        mail(HANS, "Results", "hans-1@example.de",
             "When will the results of my beta exam 71-622 arrive? I took it on 1 October."),
        mail(PRIYA, "Re: Voucher", "priya-2@example.in", "Any news? This is my 3rd email!",
             replies_to="priya-1@example.in"),
        mail(HANS, "Re: Results", "hans-2@example.de", "Thanks, that worked!",
             replies_to="hans-1@example.de"),
        mail(EMILY, "Automatic reply", "emily-ooo@example.com", "Out of the office.",
             replies_to="priya-1@example.in", headers="Auto-Submitted: auto-replied"),
    ]  # fmt: skip
    priya, hans, chased, thanked, machine = take(sessions, settings, intake, batch)

    [voucher] = priya.ticket_ids
    assert chased.ticket_ids == [voucher] and machine.ticket_ids == [voucher]
    assert thanked.ticket_ids == hans.ticket_ids
    on_voucher = db.scalars(
        select(TicketMessage.message_id).where(TicketMessage.ticket_id == voucher)
    ).all()
    assert sorted(on_voucher) == sorted([priya.message_id, chased.message_id, machine.message_id])
    ticket = db.get(Ticket, voucher)
    assert ticket is not None and ticket.chase_count >= 1
    actions = db.scalars(
        select(TicketEvent.action).where(TicketEvent.ticket_id == voucher).order_by(TicketEvent.id)
    ).all()
    assert actions[0] == "open" and "follow-up" in actions and actions[-1] == "machine-mail"
    resolved = db.get(Ticket, hans.ticket_ids[0])
    assert resolved is not None and resolved.status == "resolved"
    assert db.scalar(select(func.count(Ticket.id))) == 2


class Exploding:
    """The real matcher, failing on one text: a core bug that only one message triggers."""

    def __init__(self, real: Matcher) -> None:
        self.real = real

    def classify_parsed(self, parsed: Any, **options: Any) -> Any:
        if "EXPLODE" in parsed.new_text:
            raise RuntimeError("the matcher broke")
        return self.real.classify_parsed(parsed, **options)

    def __getattr__(self, name: str) -> Any:  # thresholds and the rest: the real matcher's
        return getattr(self.real, name)


@pytest.fixture
def fragile_intake(settings: Settings) -> Intake:
    runtime = Runtime(settings)
    runtime.__dict__["matcher"] = Exploding(runtime.matcher)
    return core_intake(settings, runtime)


def test_a_message_the_core_fails_on_is_quarantined_alone_and_the_batch_stored(
    sessions, settings, fragile_intake, records, db
) -> None:  # type: ignore[no-untyped-def]
    bad = mail(HANS, "Results", "hans-1@example.de", "EXPLODE when will my 71-622 results come?")
    batch = [
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
        bad,
        b"not a mail message at all",
        mail(EMILY, "Voucher", "emily-1@example.com", "My 71-621 beta voucher never came."),
    ]
    taken = take(sessions, settings, fragile_intake, batch)

    assert [r.status for r in taken] == ["stored", "quarantined", "quarantined", "stored"]
    assert taken[1].error == "intake failed: RuntimeError: the matcher broke"
    assert taken[1].origin == "test#1" and taken[3].ticket_ids
    assert db.scalar(select(func.count(Message.id))) == 2
    kept = db.scalars(select(QuarantinedMessage).order_by(QuarantinedMessage.id)).all()
    assert [row.raw for row in kept] == [bad, batch[2]]
    assert db.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.kind == "reply")) == 2


@pytest.fixture
def refusing_database(engine: Engine) -> Iterator[None]:
    """A database that refuses one message's row (as PostgreSQL refuses a value too long)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the refusing trigger is written for SQLite")
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON messages "
                "WHEN NEW.subject = 'poison' BEGIN SELECT RAISE(ABORT, 'value refused'); END"
            )
        )
    yield
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse_poison"))


def test_data_the_database_refuses_in_a_batch_is_quarantined_alone(
    sessions, settings, intake, records, refusing_database, db
) -> None:  # type: ignore[no-untyped-def]
    poison = mail(HANS, "poison", "hans-1@example.de", "When will my 71-622 results come?")
    batch = [
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
        poison,
        mail(EMILY, "Voucher", "emily-1@example.com", "My 71-621 beta voucher never came."),
    ]
    taken = take(sessions, settings, intake, batch)
    assert [r.status for r in taken] == ["stored", "quarantined", "stored"]
    assert taken[1].error == "cannot store: value refused"
    assert db.scalar(select(QuarantinedMessage.raw)) == poison
    assert db.scalar(select(func.count(Message.id))) == 2


def test_cli_reports_every_message_of_its_batches(
    triage, tmp_path, records, refusing_database, db
) -> None:  # type: ignore[no-untyped-def]
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for raw in [
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
        mail(HANS, "poison", "hans-1@example.de", "When will my 71-622 results come?"),
        b"not a mail message",
        mail(EMILY, "Voucher", "emily-1@example.com", "My 71-621 beta voucher never came."),
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
    ]:
        box.add(raw)
    maildir = str(tmp_path / "Maildir")
    result = triage(["ingest", "maildir", "--batch-size", "3", "--json", maildir])
    assert result.returncode == 0, result.stderr.decode()
    reported = json.loads(result.stdout)
    assert (
        sorted(r["status"] for r in reported)
        == ["duplicate"] + ["quarantined"] * 2 + ["stored"] * 2
    )
    assert sorted(r["error"] for r in reported if r["error"]) == [
        "cannot store: value refused",
        "no header fields: not a mail message",
    ]
    listed = triage(["ingest", "quarantine", "--json"])
    assert listed.stdout.count(b'"origin": "maildir:') == 2
    bad = triage(["ingest", "maildir", "--batch-size", "0", maildir])
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr


def test_automatic_replies_stop_at_the_limit_within_one_batch(
    sessions, settings, intake, records, db
) -> None:  # type: ignore[no-untyped-def]
    limit = settings.app.email.auto_reply_limit_per_hour
    loop = [
        mail("looper@example.org", f"voucher {n}", f"loop-{n}@example.org",
             f"My voucher for 71-621 has not arrived ({n}).")
        for n in range(limit + 2)
    ]  # fmt: skip
    taken = take(sessions, settings, intake, loop)
    assert [r.replied for r in taken] == [True] * limit + [False, False]
    assert [r.noise for r in taken[limit:]] == ["auto-reply-limit"] * 2
    assert db.scalar(select(func.count(AutoReply.id))) == limit


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_costs_the_same_few_statements_whatever_its_size(
    sessions, settings, intake, records, engine
) -> None:  # type: ignore[no-untyped-def]
    bodies = [OWED.replace(" MCP ID 4012345", ""), "When will my 71-622 results arrive?",
              "The invitation email for beta exam 71-625 never arrived."]  # fmt: skip

    def batch(size: int, tag: str) -> list[bytes]:
        return [
            mail(f"c{n}@{tag}.example.com", "Help", f"{tag}-{n}@example.com", bodies[n % 3])
            for n in range(size)
        ]

    counts = []
    for size, tag in ((6, "small"), (30, "large")):
        with statements(engine) as seen:
            taken = take(sessions, settings, intake, batch(size, tag))
        assert [r.status for r in taken] == ["stored"] * size
        counts.append(len(seen))
    assert counts[0] == counts[1] < 30


def test_imap_batch_claims_moves_and_quarantines_one_alone(
    dovecot: Dovecot, sessions, settings, fragile_intake, records, db
) -> None:  # type: ignore[no-untyped-def]
    account = dovecot.account()
    dovecot.append(
        account,
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
        mail(HANS, "Results", "hans-1@example.de", "EXPLODE my 71-622 results?"),
        mail(EMILY, "Voucher", "emily-1@example.com", "My 71-621 beta voucher never came."),
        mail(PRIYA, "Voucher", "priya-1@example.in", OWED),
    )
    polled = imap.poll_once(
        account=account, sessions=sessions, settings=settings, intake=fragile_intake
    )
    assert [r.status for r in polled.taken] == ["stored", "quarantined", "stored", "duplicate"]
    assert dovecot.folder_counts(account) == {"INBOX": 0, "Processed": 3, "Quarantine": 1}
    claims = db.scalars(select(ImapClaim).order_by(ImapClaim.uid)).all()
    assert [c.outcome for c in claims] == ["stored", "quarantined", "stored", "duplicate"]
    assert all(c.finished_at is not None for c in claims)
    assert db.scalar(select(func.count(Message.id))) == 2
