# ruff: noqa: F811 -- the fixtures of tests/surges, imported by name, are parameters here
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
    take,
    detect_at,
    db: Session,
    triage,
    desk,
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


def _flood(sessions, runtime, rows) -> None:
    """Mallory sends each of `rows` herself, from one address, at its minute."""
    from datetime import timedelta

    from bot.intake.flow import take_in
    from bot.types import InboundMessage
    from tests.surges.conftest import START

    with sessions() as session, session.begin():
        for n, row in enumerate(rows):
            at = START + timedelta(minutes=row["minute"])
            message = InboundMessage(
                source="email", external_id=f"<flood{n}@example.org>", text=row["text"],
                sender_email="mallory@attacker.example", received_at=at,
            )  # fmt: skip
            take_in(session, runtime, message, now=at)


def test_one_sender_flooding_a_wave_does_not_make_a_surge(
    sessions,
    runtime,
    detect_at,
    db: Session,
):
    """Mallory writes the wave's sixteen messages herself, from one address: one writer is not
    many candidates hitting one problem, so the lead is not alerted (or steered)."""

    _flood(sessions, runtime, wave("w1")[:16])
    detect_at(100)
    assert all_surges(db) == []
    assert db.scalars(select(OutboxItem).where(OutboxItem.kind == "surge")).first() is None


def test_one_sender_whose_messages_open_many_tickets_does_not_make_a_surge(
    sessions,
    runtime,
    detect_at,
    db: Session,
):
    """Mallory writes the Prometric wave (many languages, one place) herself, from one address.
    Her messages join one ticket only when read as the same issue: read as nine different
    issues they opened nine tickets, and **the lead was alerted to a surge of eight** (one
    writer counted as eight candidates). One writer is one voice."""

    from bot.store.models import Ticket

    rows = wave("w6")[:16]
    _flood(sessions, runtime, rows)
    assert len(db.scalars(select(Ticket)).all()) >= 5, "the attack needs her many tickets"
    detect_at(rows[-1]["minute"] + 5)
    assert all_surges(db) == []
    assert db.scalars(select(OutboxItem).where(OutboxItem.kind == "surge")).first() is None


def test_forgetting_her_takes_her_words_out_of_the_draft_file(
    take,
    detect_at,
    db: Session,
    triage,
    desk,
):
    """The lead pressed Make it a known issue: `knowledge-drafts/<id>.yaml` holds her message
    (scrubbed, but her words). After `triage records forget` the surge forgets its draft; the
    file written from it must not keep them either."""
    from bot.store.models import Ticket
    from bot.surges.detect import phrasing
    from bot.surges.job import load_ticket_readings

    take(wave("w5")[:14])
    detect_at(85)
    [surge] = all_surges(db)
    code, out, _ = triage("surges", "draft", str(surge.id), "--id", "transcript-portal-down")
    assert code == 0, out
    path = desk / "drafts" / "transcript-portal-down.yaml"
    from bot.surges.decisions import tickets

    readings = load_ticket_readings(db, [t.id for t in tickets(db, surge)])
    mine = next(r for r in readings if len(r.text) > 80 and phrasing(r)[:60] in path.read_text())
    words = phrasing(mine)[:60]
    address = db.get(Ticket, mine.key).candidate_key
    code, out, err = triage("records", "forget", address, "--yes")
    assert code == 0, (out, err)
    db.expire_all()
    assert db.get(Surge, surge.id).draft is None
    assert not path.exists() or words not in path.read_text(encoding="utf-8")


def test_a_quoted_error_cannot_write_template_code_into_the_drafted_answer(
    take, detect_at, db: Session, triage, desk
):
    """The draft's placeholder answer names the shared error; answers are Jinja templates
    rendered with the candidate's record. Text written by candidates must stay text there.
    (Found with `{{ facts }}{{ candidate }}`: the drafted answer rendered her record.)"""
    from bot.matching.knowledge import load_issue

    hostile = "Error: Eligibility record not found {{ facts }}{{ candidate }}"
    take([{**row, "text": row["text"].replace(QUOTED, hostile)} for row in wave("w1")[:16]])
    detect_at(100)
    [surge] = all_surges(db)
    assert any("{{" in e for e in surge.shared["errors"]), surge.shared["errors"]
    code, out, _ = triage("surges", "draft", str(surge.id), "--id", "vue-eligibility")
    assert code == 0, out
    _issue, template = load_issue(desk / "drafts" / "vue-eligibility.yaml")
    said = template.render(facts={"voucher": "SECRET-FACT"}, candidate={"name": "Priya Raman"})
    assert "SECRET-FACT" not in said and "Priya" not in said
    assert "(( facts ))" in said  # shown as text, its braces turned to parentheses


def test_a_sample_naming_another_member_of_the_wave_shows_neither_her_name_nor_her_code():
    """A wave of profiles linked to the wrong candidate: Ana's message names Priya, whose
    record (name, voucher code) is Priya's. The lead's samples (alert, `surges show`, draft
    examples: all `phrasing` with the group) mask every member's name and code in every member's
    words, as the shared error texts already did."""
    from datetime import UTC, datetime

    import numpy as np

    from bot.surges.detect import describe
    from bot.surges.readings import Reading

    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    ana = Reading.of(
        1, at, "I log in and see Priya Raman's profile, voucher QX7P-4M2K-ZZ91, not mine",
        None, 0.2, {}, names=("Ana Lima",), writer="ana@example.org",
    )  # fmt: skip
    priya = Reading.of(
        2, at, "My profile shows someone else. My code is [masked]", None, 0.2, {},
        codes=("QX7P-4M2K-ZZ91",), names=("Priya Raman",), writer="priya@example.in",
    )  # fmt: skip
    shown = " ".join(describe([ana, priya], np.ones((2, 2)))["phrasings"])  # type: ignore[arg-type]
    assert "Priya" not in shown and "Raman" not in shown, shown
    assert "QX7P" not in shown and "4M2K" not in shown, shown


def test_a_member_with_thousands_of_codes_does_not_stall_every_sample():
    """Every sample, and every draft example, is masked with every member's codes: one hostile
    member with 3,000 codes made each phrasing of a short message cost a regex scan per code
    (1 s CPU per three samples at 1,000 codes; a draft: one per member)."""
    import random
    import time
    from datetime import UTC, datetime

    from bot.surges.detect import phrasing
    from bot.surges.readings import Reading

    pick = random.Random(3)

    def code() -> str:
        return "-".join("".join(pick.choice("ABCDEFGHJK23456789") for _ in range(4)) for _ in "abc")

    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    codes = tuple(code() for _ in range(3000))
    hostile = Reading.of(1, at, "voucher [masked] " * 3000, None, 0.1, {}, codes=codes)
    short = [
        Reading.of(n, at, f"Prometric exam {n} failed to launch, code {codes[n]}", None, 0.1, {})
        for n in range(2, 42)
    ]
    started = time.process_time()
    shown = [phrasing(r, [hostile, *short]) for r in short]
    assert time.process_time() - started < 2.0
    assert not any(c in s for c, s in zip(codes[2:], shown, strict=False)), "still masked"
