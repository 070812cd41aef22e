"""Attacks on surges: what a wave's messages carry into the lead's alert, the draft knowledge file
and `triage surges show`, and what `triage records forget` leaves behind. Through the real
intake, the real detection job and the real CLI (fixtures of `tests/surges`)."""

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models.outbox import OutboxItem
from bot.store.models.surges import Surge
from tests.surges.conftest import detect_at, runtime, take, wave  # noqa: F401
from tests.surges.conftest import surges as all_surges
from tests.surges.test_cli import desk, triage  # noqa: F401

QUOTED = "Error VUE-4021: Eligibility record not found"
# A provider's error page that echoes who is asking: her MCP ID and address, quoted as the error.
ECHOED = f"{QUOTED} for MCP 4012345 (priya.raman@example.in)"
HERS = ("4012345", "priya.raman@example.in")


def _echoing_wave() -> list[dict]:
    rows = wave("w1")[:16]
    return [{**row, "text": row["text"].replace(QUOTED, ECHOED)} for row in rows]


def test_personal_data_in_a_quoted_error_stays_out_of_alert_draft_and_show(
    take, detect_at, db: Session, triage, desk  # noqa: F811
):
    take(_echoing_wave())
    detect_at(100)
    [surge] = all_surges(db)
    assert surge.shared["errors"], "the wave's quoted error is what its tickets share"
    alert = db.scalars(select(OutboxItem).where(OutboxItem.kind == "surge")).first()
    assert alert is not None
    shown = json.dumps(alert.payload, ensure_ascii=False) + json.dumps(surge.shared)
    code, out, _ = triage("surges", "show", str(surge.id))
    assert code == 0
    code, listed, _ = triage("surges", "list", "--json")
    code, drafted, _ = triage("surges", "draft", str(surge.id))
    assert code == 0, drafted
    files = list((desk / "drafts").glob("*.yaml"))
    assert files
    draft = files[0].read_text(encoding="utf-8")
    for secret in HERS:
        assert secret not in shown, f"alert: {secret}"
        assert secret not in out + listed, f"CLI: {secret}"
        assert secret not in draft + files[0].name, f"draft: {secret}"
