"""Identifying the candidate of a message from the database records."""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.records.identify import identify
from bot.records.importer import import_records
from bot.records.source import AmbiguousCandidate, DatabaseRecords

CANDIDATES = """mcp_id,name,emails,country,region,slack_user_id
1234567,Priya Raman,priya@example.com;family@example.com,India,India,U0PRIYA
7654321,Tom Baker,tom@example.com;family@example.com,United Kingdom,EMEA,U0TOM
"""


@pytest.fixture
def source(tmp_path: Path, sessions: sessionmaker[Session], db: Session) -> DatabaseRecords:
    (tmp_path / "candidates.csv").write_text(CANDIDATES)
    assert not import_records(sessions, [tmp_path]).errors
    return DatabaseRecords(db)


@pytest.mark.parametrize(
    ("keys", "mcp_id", "via"),
    [
        ({"sender_email": "Priya@Example.com"}, "1234567", "email"),
        ({"slack_user_id": "U0TOM"}, "7654321", "slack_user_id"),
        ({"mcp_ids": ["7654321"], "sender_email": "priya@example.com"}, "7654321", "mcp_id"),
        ({"mcp_ids": ["5555555"], "sender_email": "tom@example.com"}, "7654321", "email"),
    ],
)
def test_the_first_key_that_matches_one_candidate_wins(source, keys, mcp_id, via) -> None:
    who = identify(source, **keys)
    assert (who.mcp_id, who.via, who.ambiguous) == (mcp_id, via, [])


def test_a_shared_address_is_ambiguous_not_guessed(source) -> None:
    who = identify(source, sender_email="family@example.com")
    assert who.candidate is None and who.ambiguous == ["1234567", "7654321"]
    assert who.via == "email"
    with pytest.raises(AmbiguousCandidate):
        source.get("family@example.com")


def test_two_mcp_ids_in_the_text_are_ambiguous(source) -> None:
    who = identify(source, mcp_ids=["1234567", "7654321"], sender_email="priya@example.com")
    assert who.candidate is None and who.ambiguous == ["1234567", "7654321"]


def test_nobody_matches(source) -> None:
    who = identify(source, sender_email="stranger@example.net", slack_user_id="U0NOBODY")
    assert who.candidate is None and who.ambiguous == [] and who.via is None
