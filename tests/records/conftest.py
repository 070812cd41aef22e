"""Records test fixtures: a small exam catalogue and a builder of one candidate's records."""

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.records.catalogue import ExamInfo
from bot.records.schemas import (
    AttemptRow,
    CandidateRecords,
    CandidateRow,
    CertificationRow,
    InvitationRow,
    RegistrationRow,
    RestrictionRow,
    VoucherRow,
)

TODAY = date(2026, 11, 25)
MCP = "1234567"


@pytest.fixture
def catalogue() -> dict[str, ExamInfo]:
    return {
        "71-621": ExamInfo(code="71-621", title="Desktop Apps (beta)", beta=True,
                           live_counterpart="70-621", opens_on=date(2026, 1, 12),
                           results_weeks_min=6, results_weeks_max=8),
        "71-622": ExamInfo(code="71-622", title="Enterprise Desktops (beta)", beta=True,
                           live_counterpart="70-622", opens_on=date(2026, 1, 19),
                           results_weeks_min=6, results_weeks_max=8),
        "71-630": ExamInfo(code="71-630", title="Messaging (beta)", beta=True,
                           opens_on=date(2026, 12, 7), results_weeks_min=6, results_weeks_max=10),
        "71-640": ExamInfo(code="71-640", title="Undated (beta)", beta=True),
        "70-621": ExamInfo(code="70-621", title="Desktop Apps", beta=False,
                           opens_on=date(2024, 6, 3)),
    }  # fmt: skip


def records(
    *,
    country: str = "India",
    attempts: list[tuple[Any, ...]] = (),  # (exam, taken_on, result[, beta[, provider]])
    vouchers: list[dict[str, Any]] = (),
    invitations: list[dict[str, Any]] = (),
    registrations: list[dict[str, Any]] = (),
    certifications: list[tuple[str, date]] = (),
    restrictions: list[tuple[str, date]] = (),  # (exam, since), in the candidate's country
) -> CandidateRecords:
    """One candidate's records, built from short tuples and dicts."""
    return CandidateRecords(
        candidate=CandidateRow(mcp_id=MCP, name="Priya Raman", emails=["priya@example.com"],
                               country=country, region="India"),
        attempts=[
            AttemptRow(mcp_id=MCP, exam=a[0], taken_on=a[1], result=a[2],
                       beta=a[3] if len(a) > 3 else True,
                       provider=a[4] if len(a) > 4 else "prometric")
            for a in attempts
        ],
        vouchers=[VoucherRow(mcp_id=MCP, **v) for v in vouchers],
        invitations=[InvitationRow(mcp_id=MCP, **i) for i in invitations],
        registrations=[RegistrationRow(mcp_id=MCP, **r) for r in registrations],
        certifications=[
            CertificationRow(mcp_id=MCP, certification=c, granted_on=d) for c, d in certifications
        ],
        restrictions=[RestrictionRow(exam=e, country=country, since=d) for e, d in restrictions],
    )  # fmt: skip


@pytest.fixture
def samples() -> Path:
    return Path(__file__).resolve().parents[2] / "samples"
