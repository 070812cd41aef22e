"""A batch's records, read at once, answer exactly as the database does one key at a time."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.records.importer import import_records
from bot.records.prefetch import PrefetchedRecords
from bot.records.source import AmbiguousCandidate, DatabaseRecords
from bot.store.models.records import Candidate, CandidateEmail

ROOT = Path(__file__).resolve().parents[2]
# Two candidates sharing one address (a family account), next to the samples.
SHARED = (
    "mcp_id,name,emails,country,region,slack_user_id\n"
    "7000001,Ana Costa,family@example.pt;ana@example.pt,Portugal,EMEA,\n"
    "7000002,Rui Costa,family@example.pt,Portugal,EMEA,U0RUI\n"
)


@pytest.fixture
def db_with_records(sessions: sessionmaker[Session], db: Session, tmp_path: Path) -> Session:
    (tmp_path / "candidates.csv").write_text(SHARED, encoding="utf-8")
    assert not import_records(sessions, [ROOT / "samples" / "records", tmp_path]).errors
    return db


def test_prefetched_records_answer_like_the_database(db_with_records: Session) -> None:
    db = db_with_records
    mcp_ids = list(db.scalars(select(Candidate.mcp_id)))
    emails = list(db.scalars(select(CandidateEmail.email)))
    slack_users = [s for s in db.scalars(select(Candidate.slack_user_id)) if s]
    asked_mcp = [*mcp_ids, "9999999"]
    asked_emails = [*(e.upper() for e in emails), "nobody@example.com"]
    asked_slack = [*slack_users, "U0NOBODY"]
    database = DatabaseRecords(db)
    prefetched = PrefetchedRecords(
        db, mcp_ids=asked_mcp, emails=asked_emails, slack_user_ids=asked_slack
    )

    for mcp_id in asked_mcp:
        assert prefetched.find(mcp_id=mcp_id) == database.find(mcp_id=mcp_id)
        assert prefetched.get(mcp_id) == database.get(mcp_id)
    for email in asked_emails:
        assert prefetched.find(email=email) == database.find(email=email)
        if email == "FAMILY@EXAMPLE.PT":
            with pytest.raises(AmbiguousCandidate):
                prefetched.get(email)
        else:
            assert prefetched.get(email) == database.get(email)
    for slack_user in asked_slack:
        assert prefetched.find(slack_user_id=slack_user) == database.find(slack_user_id=slack_user)
    assert prefetched.find(email="family@example.pt") == ["7000001", "7000002"]


def test_a_key_nobody_named_beforehand_is_still_answered(db_with_records: Session) -> None:
    prefetched = PrefetchedRecords(db_with_records, mcp_ids=["4012345"])
    records = prefetched.get("hans.mueller@example.de")
    assert records is not None and records.mcp_id == "5023456"
    assert prefetched.find(slack_user_id="U0RUI") == ["7000002"]
    assert prefetched.get("1034567") == DatabaseRecords(db_with_records).get("1034567")
