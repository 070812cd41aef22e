"""`triage records forget`: after it, no column of any table holds a trace of the person; their
tickets stay anonymised with one audit record; waiting deliveries to them are cancelled; other
people's data, and what others wrote (minus the person), stays."""

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, LargeBinary, String, select
from sqlalchemy.orm import Session, sessionmaker

from bot.config.settings import Settings
from bot.delivery.outbox import deliver_due
from bot.errors import UserError
from bot.intake.events import claim_event
from bot.intake.flow import take_in
from bot.matching.corrections import correct_ticket
from bot.ops.runtime import Runtime
from bot.privacy.erasure import find_person, plan_erasure
from bot.privacy.traces import Traces
from bot.records.importer import import_records
from bot.store.models import Base, Message, Ticket
from bot.store.models.erasure import Erasure
from bot.store.models.mail import QuarantinedMessage
from bot.store.models.outbox import OutboxItem
from bot.store.models.records import Candidate, Voucher
from bot.tickets.digests import send_digest
from handlers.email.intake import core_intake, ingest_message
from handlers.email.outbound import make_sender
from handlers.slack.intake import inbound as slack_inbound
from tests.scale.conftest import NOW, ROOT

ZOFIA = "Zofia Wiśniewska"
MCP = "7345678"
HOME, WORK = "zofia.wisniewska@example.pl", "z.wisniewska@uni.example.edu"
SLACK_USER = "U07ZOFIA"
VOUCHER, PROMO = "PL26-K8WX-Q4VJ", "BETA621-ZW5P-R2D7"
SUBJECTS = (
    "Only one voucher after two betas 71-621 and 71-622",
    "Results for 71-624 still not in after nine weeks",
)
IDS = ("CAF-zofia-0001@mail.example.pl", "CAF-zofia-0002@uni.example.edu",
       "CAF-zofia-0003@mail.example.pl")  # fmt: skip
SLACK_CHANNEL, SLACK_TS = "C0HELPDESK", "1764064800.000100"
# Someone else, who writes about her and must keep his own data.
TOMASZ, TOMASZ_MCP, TOMASZ_EMAIL = "Tomasz Nowak", "8456789", "tomasz.nowak@example.org"

RECORDS = {
    "candidates.csv": f"""mcp_id,name,emails,country,region,slack_user_id
{MCP},{ZOFIA},{HOME};{WORK},Poland,EMEA,{SLACK_USER}
{TOMASZ_MCP},{TOMASZ},{TOMASZ_EMAIL},Poland,EMEA,U08TOMASZ
""",
    "exam_attempts.csv": f"""mcp_id,exam,provider,taken_on,beta,result
{MCP},71-621,prometric,2026-03-02,true,pass
{MCP},71-622,vue,2026-03-09,true,pass
{MCP},71-624,prometric,2026-09-01,true,pending
{TOMASZ_MCP},71-621,prometric,2026-03-03,true,pass
{TOMASZ_MCP},71-622,vue,2026-03-10,true,fail
""",
    "vouchers.csv": f"""mcp_id,code,issued_at,for_exam,scope,redeemed_at
{MCP},{VOUCHER},2026-04-02,71-621,any,
{TOMASZ_MCP},PL26-T7RN-B2HX,2026-04-03,71-621,any,
""",
    "invitations.csv": f"""mcp_id,campaign,exam,sent_at,promo_code,status
{MCP},wave-1-2026,71-621,2026-01-19T09:00:00Z,{PROMO},sent
""",
}


@dataclass
class Desk:
    """The desk after Zofia wrote: what went out, and every trace she left."""

    sent: list[EmailMessage] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=lambda: set(IDS))
    ticket_ids: list[int] = field(default_factory=list)

    @property
    def traces(self) -> list[str]:
        return [ZOFIA, "Wiśniewska", "Zofia", HOME, WORK, SLACK_USER, MCP, *SUBJECTS,
                *self.message_ids, SLACK_TS, VOUCHER[-4:], PROMO[-4:]]  # fmt: skip


def mail(
    sender: str, subject: str, message_id: str, body: str, *, replies_to: str | None = None
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = sender, "triage@desk.example.org"
    message["Subject"], message["Message-ID"] = subject, f"<{message_id}>"
    message["Date"] = format_datetime(NOW)
    if replies_to:
        message["In-Reply-To"] = message["References"] = f"<{replies_to}>"
    message.set_content(body)
    return message.as_bytes()


def bounce(address: str, original_id: str) -> bytes:
    """A delivery status notification for the desk's mail to `address`, as MTAs send them."""
    return f"""Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.uni.example.edu>
To: triage@desk.example.org
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-77@mx.uni.example.edu>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="DSN"

--DSN
Content-Type: text/plain; charset=us-ascii

Your message to {address} could not be delivered.

--DSN
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.uni.example.edu

Final-Recipient: rfc822; {address}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{address}>: User unknown

--DSN
Content-Type: text/rfc822-headers

From: Beta Exams Help Desk <triage@desk.example.org>
To: {address}
Message-ID: {original_id}

--DSN--
""".replace("\n", "\r\n").encode()


@pytest.fixture
def desk(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> Desk:  # fmt: skip
    """Zofia writes three emails (one a reply in the thread of the first, from her other
    address) and a Slack message; replies go out, one is still waiting when she asks to be
    forgotten; a bounce, a correction, a digest, quarantined mail; Tomasz and a coach write
    about her."""
    for name, text in RECORDS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert not import_records(sessions, [ROOT / "samples" / "records", tmp_path]).errors
    desk, intake = Desk(), core_intake(settings)
    sender = make_sender(settings, send=desk.sent.append)

    def ingest(raw: bytes) -> None:
        result = ingest_message(sessions, raw, settings=settings, intake=intake, now=NOW)
        assert result is not None and result.status != "duplicate", result

    first = f"I took 71-621 and 71-622 in the beta but only one voucher came, {VOUCHER}. "
    ingest(mail(f"{ZOFIA} <{HOME}>", SUBJECTS[0], IDS[0], f"{first}MCP ID {MCP}.\n{ZOFIA}"))
    still = "Any news? I am still waiting for the second voucher."
    ingest(mail(f"Zofia W. <{WORK}>", f"Re: {SUBJECTS[0]}", IDS[1], still, replies_to=IDS[0]))
    assert deliver_due(sessions, {"email": sender}, now=NOW)[0] >= 2  # the replies went out
    reply_to_work = next(m for m in desk.sent if m["To"] == WORK)
    desk.message_ids |= {m["Message-ID"].strip("<>") for m in desk.sent if m["To"] in (HOME, WORK)}
    ingest(bounce(WORK, reply_to_work["Message-ID"]))
    ingest(mail(HOME, SUBJECTS[1], IDS[2], f"My 71-624 beta result is still not in. MCP {MCP}."))
    # Others write about her: by name, address and code (in lower case, spaced), or MCP id only.
    about = f"My colleague {ZOFIA} ({HOME}) has the same voucher problem: she got pl26 k8wx q4vj."
    ingest(mail(f"{TOMASZ} <{TOMASZ_EMAIL}>", "Same voucher problem as a colleague",
                "tomasz-1@example.org", f"{about} My MCP ID is {TOMASZ_MCP}."))  # fmt: skip
    ingest(mail("coach@school.example", "Two of my students", "coach-1@school.example",
                f"Both {TOMASZ_MCP} and {MCP} are missing a beta voucher."))  # fmt: skip
    unreadable = b"To: triage@desk.example.org\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    ingest(unreadable + base64.encodebytes(f"{ZOFIA} {MCP} wrote this".encode()))
    ingest(b"To: triage@desk.example.org\r\n\r\nsomebody else's unreadable mail\r\n")

    runtime = Runtime(settings)
    event = {"type": "message", "channel": SLACK_CHANNEL, "user": SLACK_USER, "ts": SLACK_TS,
             "text": f"any news on my voucher? MCP {MCP}"}  # fmt: skip
    with sessions() as session, session.begin():
        assert claim_event(session, source="slack", event_id=f"{SLACK_CHANNEL}:{SLACK_TS}",
                           kind="message")  # fmt: skip
        take_in(session, runtime, slack_inbound(event, name=ZOFIA, email=HOME), now=NOW)
        theirs = session.scalars(select(Ticket).where(Ticket.candidate_mcp_id == MCP)).all()
        desk.ticket_ids = [t.id for t in theirs]
        correct_ticket(session, ticket_id=theirs[0].id, corrected="voucher-scope",
                          actor="U02DEV", now=NOW)  # fmt: skip
        for owner in {t.owner for t in theirs if t.owner}:
            send_digest(session, settings.app, owner_id=owner, now=NOW)
    return desk


def test_after_forget_no_column_of_any_table_holds_a_trace_of_her(
    desk: Desk, database_url: str, sessions: sessionmaker[Session], settings: Settings
) -> None:
    before = _where(sessions, desk.traces)
    assert all(before.values()), [t for t, found in before.items() if not found]
    with sessions() as session:
        pending_to_her = session.scalars(
            select(OutboxItem.id).where(OutboxItem.status == "pending",
                                        OutboxItem.recipient.in_([HOME, WORK]))
        ).all()  # fmt: skip
        issues = dict(session.execute(
            select(Ticket.id, Ticket.issue).where(Ticket.id.in_(desk.ticket_ids))
        ).all())  # fmt: skip
        tomasz_ticket = session.scalars(
            select(Ticket.id).where(Ticket.candidate_mcp_id == TOMASZ_MCP)
        ).one()
    assert pending_to_her  # the reply to her third mail had not gone out yet

    code, output = run(database_url, "records", "forget", HOME, "--yes", "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["records"] is True and report["tickets"] == len(desk.ticket_ids)
    assert report["mentions"] >= 2 and report["deliveries_cancelled"] >= len(pending_to_her)

    left = {trace: found for trace, found in _where(sessions, desk.traces).items() if found}
    assert not left, left

    sent_before = len(desk.sent)
    deliver_due(sessions, {"email": make_sender(settings, send=desk.sent.append)}, now=NOW)
    for message in desk.sent[sent_before:]:  # the others' mail goes out, without her in it
        assert message["To"] not in (HOME, WORK)
        assert not [t for t in desk.traces if t.lower() in _mail_text(message).lower()]
    with sessions() as session:
        for item_id in pending_to_her:
            item = session.get_one(OutboxItem, item_id)
            assert item.status == "cancelled" and item.payload == {"erased": True}
            assert item.last_error and "erased" in item.last_error
        assert session.get(Candidate, MCP) is None
        assert not session.scalars(select(Voucher).where(Voucher.mcp_id == MCP)).all()
        # Her tickets stay for the desk's history, anonymised, each with the erasure audited.
        for ticket in session.scalars(select(Ticket).where(Ticket.id.in_(desk.ticket_ids))):
            assert ticket.candidate_key == f"erased:{report['reference']}"
            assert ticket.issue == issues[ticket.id] and ticket.status and ticket.priority
            assert ticket.events[-1].action == "erased"
        erasure = session.scalars(select(Erasure)).one()
        assert erasure.reference == report["reference"] and erasure.counts["messages"] >= 5
        # Tomasz keeps his data, and what he wrote stays, without her in it.
        tomasz = session.get_one(Candidate, TOMASZ_MCP)
        assert tomasz.name == TOMASZ
        assert session.get_one(Ticket, tomasz_ticket).candidate_key == TOMASZ_MCP
        his = session.scalars(select(Message).where(Message.sender == TOMASZ_EMAIL)).one()
        assert "has the same voucher problem" in his.body and TOMASZ_MCP in his.body
        coach = session.scalars(select(Message).where(Message.sender == "coach@school.example"))
        assert f"Both {TOMASZ_MCP} and erased:" in coach.one().body
        assert session.scalars(select(QuarantinedMessage)).one().raw.startswith(b"To:")


def test_messages_that_only_mention_her_are_found(
    desk: Desk, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        plan = plan_erasure(session, find_person(session, MCP))
        mentions = session.scalars(
            select(Message.sender).where(Message.id.in_(plan.mention_ids))
        ).all()
    assert sorted(mentions) == ["coach@school.example", TOMASZ_EMAIL]
    assert set(plan.ticket_ids) == set(desk.ticket_ids)


def test_her_mail_polled_again_is_not_taken_in_again(
    desk: Desk, database_url: str, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    assert run(database_url, "records", "forget", MCP, "--yes")[0] == 0
    with sessions() as session:
        count = len(session.scalars(select(Message.id)).all())
    again = mail(HOME, SUBJECTS[1], IDS[2], f"My 71-624 beta result is still not in. MCP {MCP}.")
    result = ingest_message(sessions, again, settings=settings, intake=core_intake(settings))
    assert result is not None and result.status == "duplicate"
    with sessions() as session:
        assert len(session.scalars(select(Message.id)).all()) == count
    assert not any(_where(sessions, [HOME, MCP]).values())


def test_forget_asks_first_and_names_unknown_candidates_clearly(
    desk: Desk, database_url: str, db: Session
) -> None:
    code, output = run(database_url, "records", "forget", MCP, input="n\n")
    assert code == 1 and "tickets (kept, anonymised)" in output
    assert "deliveries waiting (cancelled)" in output
    assert db.get(Candidate, MCP) is not None
    code, output = run(database_url, "records", "forget", "nobody@example.org", "--yes")
    assert code == 2 and "nothing is stored about 'nobody@example.org'" in output
    assert "Traceback" not in output
    with pytest.raises(UserError, match="not an MCP id or an email address"):
        find_person(db, "Robert'); DROP TABLE tickets;--")


TRACES = Traces(mcp_id=MCP, emails={HOME}, slack_user_ids={SLACK_USER}, names={ZOFIA},
                codes={VOUCHER}, subjects={SUBJECTS[0]})  # fmt: skip


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("code pl26 k8wx q4vj, or PL26K8WXQ4VJ", "code X, or X"),
        ("voucher ****-Q4VJ issued", "voucher X issued"),
        ("Wiśniewska, Zofia wrote; ZOFIA WIŚNIEWSKA too", "X wrote; X too"),
        (f"<@{SLACK_USER}> and MCP {MCP}, not 17345678", "<@X> and MCP X, not 17345678"),
        (f"Re: {SUBJECTS[0]} [TRI-7] from {HOME.upper()}", "Re: X [TRI-7] from X"),
    ],
)
def test_every_way_of_writing_her_is_redacted(text: str, redacted: str) -> None:
    assert TRACES.names_them(text)
    assert TRACES.scrub(text, "X") == redacted


def test_a_subject_or_first_name_alone_does_not_name_her() -> None:
    assert not TRACES.names_them(f"{SUBJECTS[0]}, asks Zofia from another school")
    assert TRACES.scrub({"Zofia": ["Q4VJ"]}, "X") == {"X": ["X"]}  # in a row that does


def run(database_url: str, *args: str, input: str = "") -> tuple[int, str]:
    """The real `triage` command in a process of its own (stdin for the confirmation)."""
    env = {**os.environ, "DATABASE_URL": database_url, "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge")}
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "--config",
         str(ROOT / "app.yaml"), *args],
        input=input, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _where(sessions: sessionmaker[Session], traces: list[str]) -> dict[str, list[str]]:
    """For each trace, the `table.column`s holding it: every String, Text, JSON and binary
    column of every table, read back whole, compared case-insensitively."""
    found: dict[str, list[str]] = {trace: [] for trace in traces}
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | JSON | LargeBinary):
                    continue
                for value in session.execute(select(column)).scalars():
                    text = _text(value).lower()
                    for trace in traces:
                        if trace.lower() in text:
                            found[trace].append(f"{table.name}.{column.name}: {_text(value)[:80]}")
    return found


def _mail_text(message: EmailMessage) -> str:
    """Headers and every text part decoded (the digest's HTML is base64 on the wire)."""
    parts = [str(value) for value in message.values()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
