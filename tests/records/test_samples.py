"""The demo's sample records decide every sample message as samples/README.md says.

The message parsing here is deliberately crude (the engine parses for real): the sender, MCP ids
and exam codes, enough to check the records and the messages tell the same story.
"""

import json
import re
from email import message_from_bytes, policy
from email.utils import parseaddr
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.intake.decisions import decide
from bot.records.catalogue import load_catalogue
from bot.records.checks import run_check
from bot.records.identify import identify
from bot.records.importer import import_records
from bot.records.source import DatabaseRecords
from tests.records.conftest import TODAY

ROOT = Path(__file__).resolve().parents[2]
ISSUE_CHECK = {
    "voucher-missing": "vouchers",
    "voucher-scope": "voucher_scope",
    "results-pending": "results",
    "region-restricted": "restriction",
    "invitation-not-received": "invitations",
    "promo-code-rejected": "invitations",
    "retake-registration-blocked": "invitations",
    "registration-code-request": "invitations",
    "unexpected-registration": "registrations",
    "registration-program-error": "registrations",
    "transcript-missing-certification": "certifications",
    "exam-not-available": "availability",
    "not-a-request": None,
}
# sample -> [(issue, expected candidate, expected action, a line the check's summary contains)]
EXPECTED = {
    "mail/01-voucher-owed.eml": [("voucher-missing", "4012345", "escalate", "1 owed")],
    "mail/02-voucher-issued.eml": [("voucher-missing", "5023456", "answer", "0 owed")],
    "mail/03-voucher-scope.eml": [("voucher-scope", "1034567", "answer", "covers 70-640")],
    "mail/04-results-overdue.eml": [("results-pending", "3045678", "escalate", "(overdue)")],
    "mail/05-results-window.eml": [("results-pending", "1056789", "answer", "2026-12-21 to")],
    "mail/06-region-restricted.eml": [
        ("region-restricted", "3067890", "escalate", "invited before the restriction")
    ],
    "mail/07-invitation-not-received.eml": [
        ("invitation-not-received", "5078901", "escalate", "bounced")
    ],
    "mail/08-unexpected-registration.eml": [
        ("unexpected-registration", "5089012", "escalate", "by agent on 2026-11-18")
    ],
    "mail/09-program-error.eml": [
        ("registration-program-error", "4090123", "answer", "scheduled for 2026-12-10")
    ],
    "mail/10-transcript-missing.eml": [
        ("transcript-missing-certification", "1101234", "escalate", "no certification for")
    ],
    "mail/11-multi-issue.eml": [
        ("results-pending", "3112345", "escalate", "71-632 on 2026-09-21"),
        ("voucher-missing", "3112345", "escalate", "1 owed"),
    ],
    "mail/12-thanks.eml": [("not-a-request", "1034567", "none", None)],
    "mail/13-unknown-sender.eml": [("voucher-missing", None, "ask-id", None)],
    "mail/14-promo-code-rejected.eml": [
        ("promo-code-rejected", "1123456", "escalate", "wave-6-2026): sent on 2026-11-02")
    ],
    "slack:1764000000.000100": [
        ("retake-registration-blocked", "5134567", "answer", "retake-2026-q4")
    ],
    "slack:1764000300.000200": [
        ("registration-code-request", "4145678", "escalate", "invited to 71-635")
    ],
    "slack:1764000600.000300": [("registration-code-request", "1156789", "answer", "not on any")],
    "slack:1764000900.000400": [("exam-not-available", "3167890", "escalate", "should be")],
    "slack:1764001200.000500": [("region-restricted", "3178901", "answer", "since 2026-05-15")],
    "slack:1764001500.000600": [("invitation-not-received", "5189012", "answer", "pending")],
    "slack:1764001800.000700": [("voucher-scope", "3190123", "answer", "does not cover 70-628")],
    "slack:1764002100.000800": [("not-a-request", "3067890", "none", None)],
}


def _messages() -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in sorted((ROOT / "samples" / "mail").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        for header in ("From", "To", "Subject", "Date", "Message-ID"):
            assert message[header], f"{path.name} has no {header}"
        assert message["To"] == "support@desk.example.org"
        text = message.get_body(("plain",)).get_content()
        found[f"mail/{path.name}"] = {"email": parseaddr(str(message["From"]))[1], "text": text}
    for line in (ROOT / "samples" / "slack" / "messages.jsonl").read_text().splitlines():
        item = json.loads(line)
        assert item["channel"] == "C0INTAKE"
        on_behalf = item.get("candidate")
        found[f"slack:{item['ts']}"] = {
            "slack_user_id": None if on_behalf else item["user"],
            "email": on_behalf if on_behalf and "@" in on_behalf else None,
            "text": item["text"],
        }
    return found


def _mcp_ids(text: str) -> list[str]:
    return re.findall(r"MCP(?: ID)?:?\s*(\d{4,10})", text)


def _exams(text: str) -> list[str]:
    return list(dict.fromkeys(f"{a}-{b}" for a, b in re.findall(r"\b0?(7[01])-(\d{3})\b", text)))


@pytest.fixture
def source(sessions: sessionmaker[Session], db: Session) -> DatabaseRecords:
    assert not import_records(sessions, [ROOT / "samples" / "records"]).errors
    return DatabaseRecords(db)


def test_every_catalogue_issue_has_a_sample() -> None:
    covered = {issue for cases in EXPECTED.values() for issue, *_ in cases}
    assert covered == set(ISSUE_CHECK)


def test_every_sample_message_is_listed() -> None:
    assert set(_messages()) == set(EXPECTED)


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_the_records_decide_each_sample(source: DatabaseRecords, sample: str) -> None:
    message = _messages()[sample]
    who = identify(
        source,
        sender_email=message["email"],
        slack_user_id=message.get("slack_user_id"),
        mcp_ids=_mcp_ids(message["text"]),
    )
    catalogue = load_catalogue(ROOT / "knowledge")
    for issue, mcp_id, action, fact in EXPECTED[sample]:
        name = ISSUE_CHECK[issue]
        result = None
        if name:
            result = run_check(name, who.candidate, catalogue=catalogue, today=TODAY,
                               exams=_exams(message["text"]))  # fmt: skip
        decision = decide(issue_id=issue, check=result, identification=who, answer_template="ok",
                          entities={}, records_unavailable=False)  # fmt: skip
        assert who.mcp_id == mcp_id
        assert decision.action == action, (issue, decision.reason)
        if fact:
            assert result is not None and fact in " | ".join(result.summary), result.summary
