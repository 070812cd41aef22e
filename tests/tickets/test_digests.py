"""Owner digests: content in full against a golden file, masking, the chart, delivery once."""

import base64
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.store.models import Ticket
from bot.store.models.outbox import OutboxItem
from bot.store.models.sla import DigestRun
from bot.tickets import lifecycle as tickets
from bot.tickets import sla
from bot.tickets.digests import build_digest, chart_png, render_html, render_text, send_digest
from tests.tickets.conftest import FileFn, store_message, verdict

GOLDEN = Path(__file__).parent / "golden"
DIGEST_AT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # Wednesday 08:00 in London
CODE = "BETA-XY12-7Q2K"


def _day(days_ago: float, hour: int = 9) -> datetime:
    return DIGEST_AT.replace(hour=hour) - timedelta(days=days_ago)


@pytest.fixture
def lenas_desk(db: Session, config: AppConfig, file: FileFn) -> list[int]:
    """Five open tickets for Lena, one resolved since the last digest, one for someone else."""
    invited = [f"invitation sent 2026-11-02 (campaign beta-621), code {CODE}", "status: bounced"]
    lost = verdict("invitation-not-received", facts_summary=invited, facts={"promo_code": CODE})
    [first] = file(lost, candidate="1234567", at=_day(3))
    file(verdict("promo-code-rejected", facts_summary=["invitation sent 2026-11-10"]),
         candidate="2345678", at=_day(2, 15), angry=True)  # fmt: skip
    file(verdict("invitation-not-received", facts_summary=["not on any invitation list"]),
         candidate="ada@example.com", at=_day(0, hour=7))  # fmt: skip
    [done] = file(verdict("promo-code-rejected"), candidate="3456789", at=_day(1))
    [waiting] = file(verdict("registration-program-error"), candidate="4567890", at=_day(1, 11))
    file(verdict("voucher-missing"), candidate="5678901", at=_day(1))  # Dev's, not Lena's
    resolved = db.get(Ticket, done.ticket_id)
    paused = db.get(Ticket, waiting.ticket_id)
    assert resolved is not None and paused is not None
    tickets.resolve(db, ticket=resolved, actor="lena", now=_day(0, hour=7))
    tickets.transition(db, ticket=paused, to_status="waiting-on-candidate", actor="lena",
                       now=_day(1, 12))  # fmt: skip
    sla.pause(paused, now=_day(1, 12))
    db.add(DigestRun(owner="lena", run_at=_day(1, 8), counts={"open": 3}))
    db.commit()
    return list(range(first.ticket_id, first.ticket_id + 6))


def _numbered_from_one(text: str, ids: list[int]) -> str:
    """Ticket ids as if the database were new (PostgreSQL sequences do not restart)."""
    order = {f"TRI-{tid}": f"TRI-{n}" for n, tid in enumerate(ids, start=1)}
    return re.sub(r"TRI-\d+", lambda m: order.get(m.group(0), m.group(0)), text)


def test_digest_text_matches_the_golden_file(
    db: Session, config: AppConfig, lenas_desk: list[int]
) -> None:
    digest = build_digest(db, config, owner_id="lena", now=DIGEST_AT)
    text = _numbered_from_one(render_text(digest), lenas_desk)
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / "digest_lena.txt").write_text(text, encoding="utf-8")
    expected = (GOLDEN / "digest_lena.txt").read_text(encoding="utf-8")
    assert text == expected
    assert CODE not in text and "****-7Q2K" in text


def test_digest_html_matches_the_golden_file(
    db: Session, config: AppConfig, lenas_desk: list[int]
) -> None:
    digest = build_digest(db, config, owner_id="lena", now=DIGEST_AT)
    html = _numbered_from_one(render_html(digest), lenas_desk)
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / "digest_lena.html").write_text(html, encoding="utf-8")
    assert html == (GOLDEN / "digest_lena.html").read_text(encoding="utf-8")


def test_digest_html_masks_codes_and_shows_the_chart_inline(
    db: Session, config: AppConfig, lenas_desk: list[int]
) -> None:
    digest = build_digest(db, config, owner_id="lena", now=DIGEST_AT)
    html = render_html(digest)
    assert 'src="cid:digest-chart"' in html
    assert CODE not in html and "****-7Q2K" in html
    assert html.count('<tr style="border-top') == 4
    assert CODE not in digest.model_dump_json()


def test_digest_counts_change_and_chart_data(
    db: Session, config: AppConfig, lenas_desk: list[int]
) -> None:
    digest = build_digest(db, config, owner_id="lena", now=DIGEST_AT)
    assert digest.counts.model_dump() == {
        "open": 4, "breached": 2, "due_soon": 0, "fine": 1, "paused": 1,
    }  # fmt: skip
    assert (digest.change.open_before, digest.change.open_delta) == (3, 1)
    assert (digest.change.new, digest.change.resolved) == (3, 1)
    assert [g.label for g in digest.groups] == [
        "invitation-not-received", "promo-code-rejected", "registration-program-error",
    ]  # fmt: skip
    assert len(digest.chart.days) == 14 and digest.chart.days[-1].isoformat() == "2026-11-25"
    assert digest.chart.series["invitation-not-received"][-4:] == [1, 0, 0, 1]
    assert digest.chart.series["promo-code-rejected"][-4:] == [0, 1, 1, 0]


def test_chart_is_a_deterministic_png(
    db: Session, config: AppConfig, lenas_desk: list[int]
) -> None:
    digest = build_digest(db, config, owner_id="lena", now=DIGEST_AT)
    png = chart_png(digest)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert chart_png(digest) == png


def test_sending_enqueues_slack_and_email_once_per_day(
    db: Session, config: AppConfig, lenas_desk: list[int]
) -> None:
    _, added = send_digest(db, config, owner_id="lena", now=DIGEST_AT)
    db.commit()
    assert added == {"slack": True, "email": True}
    _, again = send_digest(db, config, owner_id="lena", now=DIGEST_AT + timedelta(hours=1))
    db.commit()
    assert again == {"slack": False, "email": False}
    items = {
        i.channel: i for i in db.scalars(select(OutboxItem).where(OutboxItem.kind == "digest"))
    }
    assert items["slack"].dedupe_key == "digest:lena:2026-11-25:slack"
    assert items["slack"].payload["view"] == "digest"
    assert items["slack"].payload["digest"]["counts"]["open"] == 4
    assert base64.b64decode(items["slack"].payload["chart"]["data_b64"]).startswith(b"\x89PNG")
    assert items["email"].recipient == "lena.fischer@desk.example.org"
    email = items["email"].payload
    assert email["chart"]["content_id"] == "digest-chart" and "<html" in email["html"].lower()
    assert email["text"] == render_text(build_digest(db, config, owner_id="lena", now=DIGEST_AT))
    runs = db.scalars(select(DigestRun).where(DigestRun.owner == "lena")).all()
    assert len(runs) == 2  # the fixture's earlier one and today's


def test_owner_with_nothing_open_gets_an_empty_digest(db: Session, config: AppConfig) -> None:
    digest = build_digest(db, config, owner_id="kenji", now=DIGEST_AT)
    text = render_text(digest)
    assert "Open tickets: 0" in text and "No open tickets." in text
    assert chart_png(digest).startswith(b"\x89PNG")


def test_what_a_candidate_wrote_is_escaped_in_the_html_digest(
    db: Session, config: AppConfig, file: FileFn
) -> None:
    sender = '"<b>html</b>"@evil.example'
    subject = "<b>html</b> <script>alert(1)</script> <!channel> code in26 9f3d 7q2k"
    message = store_message(db, sender=sender, subject=subject, at=_day(1))
    file(verdict("invitation-not-received", facts_summary=["<i>status</i>: sent"]),
         candidate=sender, message=message, at=_day(1))  # fmt: skip
    html = render_html(build_digest(db, config, owner_id="lena", now=DIGEST_AT))
    assert "<b>" not in html and "<script>" not in html and "<i>" not in html
    assert "&#34;&lt;b&gt;html&lt;/b&gt;&#34;@evil.example" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;i&gt;status&lt;/i&gt;" in html
    assert "9f3d" not in html and "****-7q2k" in html
    text = render_text(build_digest(db, config, owner_id="lena", now=DIGEST_AT))
    assert "subject: <b>html</b> <script>alert(1)</script> <!channel> code ****-7q2k" in text
