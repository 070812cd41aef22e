"""Agents' corrections close the loop: stored scrubbed, retrained on, used for the next message."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.cli.model_cmd import worse
from bot.config.settings import Settings
from bot.intake.flow import take_in
from bot.matching.corrections import record_correction, scrub, training_examples
from bot.ops.runtime import Runtime
from bot.store.models.slack import IssueCorrection
from bot.types import InboundMessage
from tests.conftest import DATA_DIR, KNOWLEDGE_DIR, ROOT

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
MOVED = "Prometric moved my 71-626 appointment to another city without asking me"


def test_a_correction_is_stored_with_personal_data_masked(db: Session):
    text = (
        "Hi, I am Tom Baker (MCP ID 5512345, tom.baker@example.org, +44 20 7946 0958). My code "
        "ABCD-EFGH-7Q2K is rejected for 71-626.\nRegards,\nTom Baker"
    )
    record_correction(
        db, text=text, issues=["promo-code-rejected"], ticket_id=None, actor="agent",
        names=["Tom Baker"],
    )  # fmt: skip
    db.commit()
    stored = db.scalars(select(IssueCorrection)).one()
    for secret in ("Tom", "Baker", "5512345", "tom.baker@", "7946", "ABCD-EFGH-7Q2K"):
        assert secret not in stored.text
    assert "71-626" in stored.text and "rejected" in stored.text
    assert (stored.corrected, stored.issues) == ("promo-code-rejected", ["promo-code-rejected"])
    [example] = training_examples(db)
    assert (example.issues, example.split) == (["promo-code-rejected"], "corrections")


def test_a_name_signed_after_a_closing_is_masked_even_unnamed():
    assert scrub("the voucher never came.\nThanks, Rahul Verma") == (
        "the voucher never came.\nThanks, [name]"
    )


def _message(n: int) -> InboundMessage:
    return InboundMessage(
        source="email", external_id=f"<moved{n}@example.org>", text=MOVED,
        subject="Appointment", sender_email=f"person{n}@example.org", received_at=NOW,
    )  # fmt: skip


@pytest.mark.slow
def test_a_correction_then_retraining_changes_the_next_reading(
    settings: Settings, db: Session, database_url: str, monkeypatch, capsys
):
    runtime = Runtime(settings)
    before = take_in(db, runtime, _message(1), now=NOW)
    db.commit()
    assert before.issue == "unexpected-registration"
    # The agent says: none of the catalogue (Slack "Not this issue" -> unknown).
    record_correction(
        db, text=MOVED, issues=[], ticket_id=before.tickets[0].ticket_id, actor="slack:U10AGENT",
        predicted=before.issue,
    )  # fmt: skip
    db.commit()

    monkeypatch.setenv("DATABASE_URL", database_url)
    config = ["--config", str(ROOT / "app.yaml")]
    data = ["--data", str(DATA_DIR), "--knowledge", str(KNOWLEDGE_DIR)]
    with pytest.raises(SystemExit) as exited:
        main([*config, "model", "train", *data, "--actor", "lead"])
    assert exited.value.code == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "blind_top1" in out and "holdout_top1" in out and "version 1 in use" in out

    after = take_in(db, runtime, _message(2), now=NOW)
    db.commit()
    assert after.issue is None  # a person looks at it, as the agent said

    with pytest.raises(SystemExit):
        main([*config, "model", "list", "--json"])
    [model] = json.loads(capsys.readouterr().out)
    assert model["version"] == 1 and model["passed"] and model["actor"] == "lead"
    assert model["figures"]["corrections"] == 1
    assert set(model["figures"]["before"]) == {"blind_top1", "holdout_top1",
                                               "blind_requests_dropped"}  # fmt: skip


def test_a_model_worse_on_a_frozen_split_is_refused():
    old = {"blind_top1": 0.89, "holdout_top1": 0.99, "blind_requests_dropped": 0}
    assert worse(dict(old), old) == []
    problems = worse({**old, "holdout_top1": 0.98, "blind_requests_dropped": 1}, old)
    assert len(problems) == 2 and problems[0].startswith("holdout_top1")
