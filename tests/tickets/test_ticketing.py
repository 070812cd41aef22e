"""Filing triaged messages: one ticket per issue, threading, thanks, routing, SLA clocks."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.store.models import Ticket, TicketMessage
from bot.store.models.outbox import OutboxItem
from bot.tickets.filing import file_triaged_message
from tests.tickets.conftest import NOW, FileFn, store_message, triaged, verdict


def _outbox(db: Session) -> list[tuple[str, str, str]]:
    items = db.scalars(select(OutboxItem).order_by(OutboxItem.id))
    return [(i.channel, i.kind, i.recipient) for i in items]


def test_escalation_routes_to_one_owner_and_notifies_them(db: Session, file: FileFn) -> None:
    facts = ["beta exams taken: 2, vouchers issued: 1, owed: 1"]
    [filed] = file(verdict("voucher-missing", facts_summary=facts, facts={"owed": 1}))
    assert filed.created and filed.ref == f"TRI-{filed.ticket_id}"
    assert (filed.status, filed.owner, filed.rule) == ("escalated", "dev", "vouchers")
    assert filed.facts_summary == facts
    assert _outbox(db) == [
        ("slack", "escalation", "U02DEV"),
        ("email", "escalation", "dev.patel@desk.example.org"),
    ]
    slack = db.scalars(select(OutboxItem).where(OutboxItem.channel == "slack")).one()
    assert slack.payload["view"] == "notice"
    assert slack.payload["facts"] == facts
    assert slack.payload["routing_rule"] == "vouchers"
    ticket = db.get(Ticket, filed.ticket_id)
    assert ticket is not None and ticket.first_response_due_at is not None
    # dev works 08:00-17:00 in Chicago; the ticket came in at 04:00 there: 8h -> 22:00 UTC.
    assert ticket.first_response_due_at == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


def test_answer_records_the_first_response_at_filing(db: Session, file: FileFn) -> None:
    [filed] = file(verdict("voucher-scope", action="answer", answer="Any exam."))
    ticket = db.get(Ticket, filed.ticket_id)
    assert ticket is not None
    assert (filed.status, filed.answer, filed.owner) == ("answered", "Any exam.", None)
    assert ticket.first_response_at == NOW and ticket.first_response_seconds == 0
    assert _outbox(db) == []  # the intake sends the answer itself


def test_one_ticket_per_issue_linked_by_group(db: Session, file: FileFn) -> None:
    filed = file(verdict("voucher-missing"), verdict("results-pending", action="answer"))
    assert [f.issue for f in filed] == ["voucher-missing", "results-pending"]
    assert len({f.ticket_id for f in filed}) == 2
    assert {f.group_id for f in filed} == {filed[0].ticket_id}
    links = db.scalars(select(TicketMessage.ticket_id)).all()
    assert sorted(links) == sorted(f.ticket_id for f in filed)


def test_follow_up_threads_and_chasing_raises_priority(db: Session, file: FileFn) -> None:
    [first] = file(verdict("voucher-missing"))
    [second] = file(verdict("voucher-missing"), at=NOW + timedelta(hours=1), chasing=2)
    assert not second.created and second.ticket_id == first.ticket_id
    assert (first.priority, second.priority) == ("normal", "high")
    ticket = db.get(Ticket, first.ticket_id)
    assert ticket is not None and ticket.chase_count == 2
    assert [e.action for e in ticket.events][-2:] == ["follow-up", "priority"]
    assert len(db.scalars(select(TicketMessage)).all()) == 2
    assert db.scalar(select(Ticket.id).where(Ticket.id != first.ticket_id)) is None


def test_other_candidates_and_other_issues_get_their_own_tickets(file: FileFn) -> None:
    [a] = file(verdict("voucher-missing"))
    [b] = file(verdict("voucher-missing"), candidate="7654321")
    [c] = file(verdict("voucher-scope", action="answer", answer="x"))
    assert len({a.ticket_id, b.ticket_id, c.ticket_id}) == 3


def test_thanks_resolves_the_single_open_ticket_and_opens_none(db: Session, file: FileFn) -> None:
    [opened] = file(verdict("voucher-missing"))
    filed = file(verdict("not-a-request", action="none"), thanks=True, at=NOW + timedelta(days=1))
    assert [(f.ticket_id, f.status, f.created) for f in filed] == [
        (opened.ticket_id, "resolved", False)
    ]
    ticket = db.get(Ticket, opened.ticket_id)
    assert ticket is not None and ticket.resolved_at == NOW + timedelta(days=1)
    assert ticket.resolution_seconds is not None and ticket.resolution_seconds > 0
    assert len(db.scalars(select(Ticket)).all()) == 1


def test_thanks_with_several_open_tickets_resolves_the_one_in_its_thread(
    db: Session, config: AppConfig, file: FileFn
) -> None:
    [vouchers] = file(verdict("voucher-missing"), message=store_message(db, thread_key="t1"))
    [results] = file(verdict("results-pending"), message=store_message(db, thread_key="t2"))
    # Without a thread to go by, a person decides which one is solved.
    assert file(verdict("not-a-request", action="none"), thanks=True) == []
    reply = store_message(db, thread_key="t2", at=NOW + timedelta(hours=2))
    filed = file(verdict("not-a-request", action="none"), thanks=True, message=reply)
    assert [f.ticket_id for f in filed] == [results.ticket_id]
    assert db.get(Ticket, vouchers.ticket_id).status == "escalated"  # type: ignore[union-attr]


def test_plain_not_a_request_makes_no_ticket(db: Session, file: FileFn) -> None:
    assert file(verdict("not-a-request", action="none")) == []
    assert db.scalars(select(Ticket)).all() == []


def test_unknown_issue_goes_to_the_triage_lead(file: FileFn) -> None:
    [filed] = file(verdict(None), region="LATAM", country="Brazil")
    assert (filed.issue, filed.owner, filed.rule) == (None, "maria", "unknown-to-triage-lead")


def test_knowledge_team_is_the_fallback_before_the_triage_lead(file: FileFn) -> None:
    [filed] = file(verdict("some-new-issue", team="registrations"), region=None, country=None)
    assert (filed.owner, filed.rule) == ("lena", "knowledge-team:registrations")


def test_asking_for_the_id_pauses_the_clock_and_the_answer_resumes_it(
    db: Session, config: AppConfig, file: FileFn
) -> None:
    [asked] = file(verdict("invitation-not-received", action="ask-id"), candidate="ada@example.com")
    ticket = db.get(Ticket, asked.ticket_id)
    assert ticket is not None
    assert asked.status == "waiting-on-candidate" and ticket.sla_paused_at == NOW
    # The candidate writes back a day later with their id; now it is routed to Lena (London).
    [back] = file(verdict("invitation-not-received"), candidate="ada@example.com",
                  at=NOW + timedelta(days=1))  # fmt: skip
    db.refresh(ticket)
    assert not back.created and (back.status, back.owner) == ("escalated", "lena")
    assert ticket.sla_paused_at is None
    assert ticket.sla_paused_seconds == 8.5 * 3600  # Wed 10:00-17:30 and Thu 09:00-10:00
    # Eight business hours counted from Thursday 10:00: Friday 09:30.
    assert ticket.first_response_due_at == datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def test_referenced_ticket_id_threads_even_when_the_issue_reads_differently(
    db: Session, config: AppConfig, file: FileFn
) -> None:
    [first] = file(verdict("voucher-missing"))
    message = store_message(db, at=NOW + timedelta(hours=1))
    triage = triaged(verdict("voucher-scope")).model_copy(update={"ticket_id": first.ticket_id})
    [again] = file_triaged_message(db, config, message=message, triage=triage,
                                   now=NOW + timedelta(hours=1))  # fmt: skip
    assert again.ticket_id == first.ticket_id and not again.created
