"""The `triage tickets` and `triage digest` commands, through the real CLI and database."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import Ticket
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem
from tests.conftest import ROOT, cli_runner
from tests.tickets.conftest import NOW, FileFn, verdict

Run = Callable[..., tuple[int, str, str]]
CODE = "BETA-XY12-7Q2K"


@pytest.fixture
def triage(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Run:
    return cli_runner(capsys, monkeypatch, database_url)


@pytest.fixture
def two(file: FileFn) -> tuple[int, int]:
    facts = [f"invitation sent, code {CODE}"]
    [a] = file(verdict("voucher-missing", facts_summary=["owed: 1"]))
    [b] = file(verdict("invitation-not-received", facts_summary=facts, facts={"promo_code": CODE}),
               candidate="ada@example.com")  # fmt: skip
    return a.ticket_id, b.ticket_id


def test_list_json_carries_the_contract_fields(triage: Run, two: tuple[int, int]) -> None:
    code, out, _ = triage("tickets", "list", "--json")
    assert code == 0
    items = json.loads(out)
    assert [i["id"] for i in items] == [two[1], two[0]]
    for key in ("id", "status", "issue", "priority", "owner", "candidate", "source",
                "created_at", "first_response_at", "sla_due_at"):  # fmt: skip
        assert key in items[0]
    assert (items[0]["candidate"], items[1]["candidate"]) == (None, "1234567")
    code, out, _ = triage("tickets", "list", "--json", "--owner", "dev", "--status", "escalated")
    assert [i["issue"] for i in json.loads(out)] == ["voucher-missing"]
    code, out, _ = triage("tickets", "list", "--json", "--issue", "invitation-not-received")
    assert [i["owner"] for i in json.loads(out)] == ["lena"]


def test_show_has_rule_facts_masked_and_audit_trail(triage: Run, two: tuple[int, int]) -> None:
    code, out, _ = triage("tickets", "show", f"TRI-{two[1]}", "--json")
    detail = json.loads(out)
    assert detail["routing_rule"] == "registrations"
    assert detail["facts"] == ["invitation sent, code ****-7Q2K"]
    assert [e["action"] for e in detail["events"]] == ["open", "escalate"]
    code, out, _ = triage("tickets", "show", str(two[1]))
    assert code == 0 and "rule registrations" in out and CODE not in out and "****-7Q2K" in out


@pytest.mark.parametrize("args", [("show", "TRI-999"), ("resolve", "999"), ("show", "XYZ-1")])
def test_unknown_ids_are_one_line_and_exit_2(triage: Run, args: tuple[str, ...]) -> None:
    code, _, err = triage("tickets", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_resolve_reopen_and_refusals(triage: Run, two: tuple[int, int], db: Session) -> None:
    ref = f"TRI-{two[0]}"
    assert triage("tickets", "resolve", ref, "--note", "voucher sent")[:2] == (
        0,
        f"{ref} resolved\n",
    )
    code, _, err = triage("tickets", "escalate", ref)
    assert code == 2 and f"ticket {ref} is resolved; reopen it first" in err
    assert triage("tickets", "reopen", ref)[1] == f"{ref} reopened (escalated)\n"
    ticket = db.get(Ticket, two[0])
    assert ticket is not None and ticket.status == "escalated"


def test_assign_and_escalate_notify_the_new_owner(
    triage: Run, two: tuple[int, int], db: Session
) -> None:
    ref = f"TRI-{two[0]}"
    assert triage("tickets", "assign", ref, "Sam")[1] == f"{ref} reassigned to sam\n"
    code, out, _ = triage("tickets", "escalate", ref, "--to", "maria", "--reason", "fraud?")
    assert code == 0 and out.startswith(f"{ref} escalated to maria (rule manual:")
    recipients = db.scalars(select(OutboxItem.recipient).where(OutboxItem.ticket_id == two[0]))
    assert {"U06SAM", "U01MARIA"} <= set(recipients)
    code, _, err = triage("tickets", "assign", ref, "nobody")
    assert code == 2 and "unknown owner 'nobody'" in err


def test_merge_closes_the_merged_ticket(triage: Run, two: tuple[int, int], db: Session) -> None:
    a, b = two
    assert triage("tickets", "merge", str(b), f"TRI-{a}")[1] == f"TRI-{b} merged into TRI-{a}\n"
    code, out, _ = triage("tickets", "show", str(b), "--json")
    assert json.loads(out)["merged_into"] == a and json.loads(out)["status"] == "closed"
    code, _, err = triage("tickets", "resolve", str(b))
    assert code == 2 and f"merged into TRI-{a}" in err


def test_digest_prints_json_and_writes_the_chart(
    triage: Run, two: tuple[int, int], tmp_path: Path
) -> None:
    chart = tmp_path / "dev.png"
    code, out, _ = triage("digest", "--owner", "dev", "--json", "--chart", str(chart))
    assert code == 0 and json.loads(out)["counts"]["open"] == 1
    assert chart.read_bytes().startswith(b"\x89PNG")
    code, out, _ = triage("digest", "--owner", "Lena Fischer")
    assert "invitation-not-received (1)" in out and CODE not in out


def test_digest_send_without_senders_says_so(triage: Run, db: Session) -> None:
    code, _, err = triage("digest", "--owner", "dev", "--send")
    assert code == 2 and "no Slack or email sender is configured" in err
    assert db.scalars(select(OutboxItem)).all() == []


def test_open_logs_a_call_through_the_same_triage(
    triage: Run, sessions: object, db: Session
) -> None:
    from bot.records.importer import import_records

    import_records(sessions, [ROOT / "samples" / "records"])  # type: ignore[arg-type]
    text = "I took 71-621 and 71-622 in the beta but only one voucher came."
    code, out, err = triage("tickets", "open", "--candidate", "4012345", text, "--json")
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["candidate_mcp_id"] == "4012345"
    [ticket] = outcome["tickets"]
    assert ticket["issue"] == "voucher-missing" and ticket["created"]
    stored = db.get(Ticket, ticket["ticket_id"])
    assert stored is not None and stored.source == "phone"
    assert db.scalars(select(OutboxItem).where(OutboxItem.kind == "reply")).all() == []
    code, out, _ = triage("tickets", "open", "--candidate", "4012345", text)
    assert code == 0 and f"TRI-{ticket['ticket_id']} updated: voucher-missing" in out
    code, _, err = triage("tickets", "open", "--candidate", "4012345", "--source", "fax", text)
    assert code == 2 and "unknown source 'fax'" in err


def test_show_lists_deliveries_with_a_failed_send_and_its_error(
    triage: Run, two: tuple[int, int], sessions
) -> None:  # type: ignore[no-untyped-def]
    from bot.delivery.outbox import TransientDeliveryError, deliver_due

    def smtp_down(item: OutboxItem) -> None:
        raise TransientDeliveryError("connection refused by 127.0.0.1:2525")

    deliver_due(sessions, {"email": smtp_down})
    code, out, _ = triage("tickets", "show", str(two[0]))
    assert code == 0
    assert "delivery email/" in out and "pending after 1 attempt(s)" in out
    assert "connection refused by 127.0.0.1:2525" in out
    code, out, _ = triage("tickets", "show", str(two[0]), "--json")
    deliveries = json.loads(out)["deliveries"]
    assert any(d["status"] == "pending" and d["attempts"] == 1 for d in deliveries)


def test_escalate_routes_by_the_candidates_desk_region_and_country(
    triage: Run, db: Session, tmp_path: Path
) -> None:
    """A ticket nobody owns goes by the routing rules, with the candidate's desk region and
    country each in its place (a `countries:` rule matches the country, not the region)."""
    config = yaml.safe_load((ROOT / "app.yaml").read_text())
    uk = {"name": "uk-vouchers", "match": {"issues": ["voucher-missing"],
          "countries": ["United Kingdom"]}, "owner": "oliver"}  # fmt: skip
    config["routing"].insert(0, uk)
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(config))
    named = {"regions": ["EMEA", "United Kingdom"]}  # as the parser reads "EMEA ... the UK"
    ticket = Ticket(status="new", issue="voucher-missing", priority="normal", source="email",
                    candidate_key="ada@example.com", entities=named,
                    created_at=utcnow(), updated_at=utcnow())  # fmt: skip
    db.add(ticket)
    db.commit()
    code, out, err = triage("--config", str(path), "tickets", "escalate", str(ticket.id))
    assert code == 0, err
    assert out == f"TRI-{ticket.id} escalated to oliver (rule uk-vouchers)\n"


def test_escalate_routes_by_the_record_when_the_candidate_is_known(
    triage: Run, db: Session, sessions: object
) -> None:
    from bot.records.importer import import_records

    import_records(sessions, [ROOT / "samples" / "records"])  # type: ignore[arg-type]
    # Priya's record says India; her message named no place at all.
    ticket = Ticket(status="new", issue="voucher-missing", priority="normal", source="email",
                    candidate_key="4012345", candidate_mcp_id="4012345", entities={},
                    created_at=utcnow(), updated_at=utcnow())  # fmt: skip
    db.add(ticket)
    db.commit()
    _, out, _ = triage("tickets", "escalate", str(ticket.id))
    assert out == f"TRI-{ticket.id} escalated to ananya (rule india-vouchers)\n"


def test_reassigning_carries_the_business_time_left_into_the_new_owners_calendar(
    triage: Run, db: Session, file: FileFn
) -> None:
    # Opened Wednesday 10:00 UTC (04:00 in Chicago) for dev, whose day is 08:00-17:00 there:
    # the first response is due at 22:00 UTC. At 16:00 UTC six of dev's business hours are left.
    [filed] = file(verdict("voucher-missing"))
    with time_machine.travel(NOW + timedelta(hours=6), tick=False):
        code, _, err = triage("tickets", "assign", str(filed.ticket_id), "lena", "--as", "ops")
    assert code == 0, err
    db.expire_all()
    ticket = db.get_one(Ticket, filed.ticket_id)
    # Lena's London day (09:00-17:30) has 1.5 of them left on Wednesday, the other 4.5 on
    # Thursday morning: the candidate is promised neither less nor more.
    assert ticket.first_response_due_at == datetime(2026, 11, 26, 13, 30, tzinfo=UTC)
    assert ticket.events[-1].actor == "cli:ops" and ticket.events[-1].action == "reassign"


def test_actions_are_audited_with_the_operators_name(
    triage: Run, two: tuple[int, int], db: Session
) -> None:
    ref = f"TRI-{two[0]}"
    assert triage("tickets", "resolve", ref, "--as", "Maria Okafor")[0] == 0
    assert triage("tickets", "reopen", ref)[0] == 0
    db.expire_all()
    ticket = db.get_one(Ticket, two[0])
    actors = [e.actor for e in ticket.events[-2:]]
    assert actors[0] == "cli:Maria Okafor" and actors[1].startswith("cli:")
    code, _, err = triage("tickets", "resolve", ref, "--as", " ")
    assert code == 2 and "--as needs a name" in err


def test_send_answer_and_relabel_from_the_cli(triage: Run, file: FileFn, db: Session) -> None:
    [filed] = file(verdict("voucher-scope", action="answer", answer="Any exam."),
                   candidate="ada@example.com")  # fmt: skip
    code, out, err = triage("tickets", "send-answer", str(filed.ticket_id))
    assert code == 0, err
    assert "privately (email to ada@example.com)" in out
    code, out, _ = triage("tickets", "relabel", str(filed.ticket_id), "voucher-missing")
    assert out == f"TRI-{filed.ticket_id} relabelled voucher-missing\n"
    code, _, err = triage("tickets", "relabel", str(filed.ticket_id), "no-such-issue")
    assert code == 2 and "`no-such-issue` is not a known issue." in err
