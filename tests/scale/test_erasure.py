"""`triage records forget`: the candidate's personal data goes, anonymised tickets and an audit
trail stay, other candidates are untouched."""

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import UserError
from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.privacy.erasure import find_subject
from bot.store.models import Message, Ticket, TicketEvent
from bot.store.models.erasure import Erasure
from bot.store.models.outbox import OutboxItem
from bot.store.models.records import Candidate, CandidateEmail, Voucher
from bot.types import InboundMessage
from tests.scale.conftest import NOW, ROOT, email

PRIYA = (
    "I took 71-621 and 71-622 in the beta but only one voucher came. MCP ID 4012345. Priya Raman"
)
HANS = "Where is my voucher for the 71-621 beta? Hans Müller, MCP 5023456"


def run(database_url: str, *args: str, input: str = "") -> tuple[int, str]:
    """The real `triage` command in a process of its own (stdin for the confirmation)."""
    env = {**os.environ, "DATABASE_URL": database_url, "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge")}
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "--config",
         str(ROOT / "app.yaml"), *args],
        input=input, capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def filed(runtime: Runtime, sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        take_in(session, runtime, email(PRIYA, subject="Voucher for Priya Raman"), now=NOW)
        take_in(session, runtime, InboundMessage(
            source="slack", external_id="C1:1700000000.000100", text="any news? " + PRIYA,
            slack_user_id="U0PRIYA", slack_channel="C1", received_at=NOW,
        ), now=NOW)  # fmt: skip
        hans = email(HANS, external_id="<h1@example.de>", sender_email="hans.mueller@example.de")
        take_in(session, runtime, hans, now=NOW)


def test_forget_erases_the_candidate_and_keeps_anonymised_tickets(
    filed: None, database_url: str, db: Session
) -> None:
    tickets_before = db.scalars(select(Ticket).where(Ticket.candidate_mcp_id == "4012345")).all()
    assert tickets_before
    code, output = run(database_url, "records", "forget", "4012345", "--yes", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["records"] is True and report["tickets"] == len(tickets_before)

    db.expire_all()
    assert db.get(Candidate, "4012345") is None
    assert not db.scalars(select(CandidateEmail).where(CandidateEmail.mcp_id == "4012345")).all()
    assert not db.scalars(select(Voucher).where(Voucher.mcp_id == "4012345")).all()

    everything = _dump(db)
    for personal in ("priya", "Priya", "4012345", "U0PRIYA", "Raman"):
        assert personal not in everything, personal
    assert "Hans" in everything and "5023456" in everything  # someone else's data stays

    for ticket in db.scalars(select(Ticket).where(Ticket.id.in_([t.id for t in tickets_before]))):
        assert ticket.candidate_key == f"erased:{report['reference']}"
        assert ticket.issue and ticket.status and ticket.priority  # the desk's facts stay
        assert ticket.events[-1].action == "erased"
    erasure = db.scalars(select(Erasure)).one()
    assert erasure.counts["messages"] >= 2 and "priya" not in json.dumps(erasure.counts)
    # Pending replies to the candidate are not sent after they asked to be forgotten.
    pending = db.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).all()
    assert all("erased" not in item.recipient for item in pending)


def test_an_erased_message_polled_again_is_not_taken_in_again(
    filed: None, database_url: str, runtime: Runtime, db: Session
) -> None:
    assert run(database_url, "records", "forget", "priya.raman@example.in", "--yes")[0] == 0
    again = take_in(db, runtime, email(PRIYA), now=NOW)
    assert again.duplicate
    assert db.scalars(select(Message).where(Message.body.contains("voucher came"))).all() == []


def test_forget_asks_first_and_names_unknown_candidates_clearly(
    filed: None, database_url: str, db: Session
) -> None:
    code, output = run(database_url, "records", "forget", "4012345", input="n\n")
    assert code == 1 and "tickets (kept, anonymised)" in output
    assert db.get(Candidate, "4012345") is not None
    code, output = run(database_url, "records", "forget", "nobody@example.org", "--yes")
    assert code == 2 and "nothing is stored about 'nobody@example.org'" in output
    with pytest.raises(UserError, match="not an MCP id or an email address"):
        find_subject(db, "Robert'); DROP TABLE tickets;--")


def _dump(db: Session) -> str:
    """Every text the desk still holds about anyone: messages, tickets, events, outbox."""
    parts: list[str] = []
    for m in db.scalars(select(Message)):
        parts += [m.body, m.raw or "", m.subject or "", m.sender or "", m.recipient or "",
                  m.candidate_mcp_id or "", json.dumps(m.meta, ensure_ascii=False)]  # fmt: skip
    for t in db.scalars(select(Ticket)):
        documents = json.dumps([t.entities, t.facts, t.facts_summary], ensure_ascii=False)
        parts += [t.candidate_key or "", t.candidate_mcp_id or "", t.subject or "", t.answer or ""]
        parts.append(documents)
    for e in db.scalars(select(TicketEvent)):
        parts += [e.actor, e.reason or "", json.dumps(e.data, ensure_ascii=False)]
    for o in db.scalars(select(OutboxItem)):
        parts += [o.recipient, json.dumps(o.payload, ensure_ascii=False)]
    return "\n".join(parts)


def test_dump_sees_personal_data_before_erasure(filed: None, db: Session) -> None:
    assert "priya.raman@example.in" in _dump(db) and "Priya" in _dump(db)
