"""The ticket lifecycle: allowed transitions, refusals with clear messages, the audit trail."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.errors import UserError
from bot.store.models import Ticket, TicketEvent, TicketMessage
from bot.tickets import lifecycle as tickets
from tests.tickets.conftest import NOW, store_message


def _ticket(db: Session, **fields: object) -> Ticket:
    ticket = tickets.open_ticket(db, source="email", now=NOW, candidate_key="1234567", **fields)
    db.commit()
    return ticket


def test_every_transition_is_an_audit_event(db: Session, config: AppConfig) -> None:
    ticket = _ticket(db, issue="voucher-missing")
    tickets.escalate(db, ticket=ticket, owner="dev", rule="vouchers", actor="maria",
                     now=NOW, config=config, reason="owed one voucher")  # fmt: skip
    tickets.resolve(db, ticket=ticket, actor="dev", now=NOW + timedelta(hours=1), note="sent")
    db.commit()
    trail = [(e.action, e.from_status, e.to_status, e.actor, e.reason) for e in ticket.events]
    assert trail == [
        ("open", None, "new", "triage-bot", None),
        ("escalate", "new", "escalated", "maria", "owed one voucher"),
        ("resolve", "escalated", "resolved", "dev", "sent"),
    ]
    assert ticket.owner == "dev" and ticket.routing_rule == "vouchers" and ticket.team == "vouchers"
    assert ticket.resolved_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("status", "to", "message"),
    [
        ("closed", "answered", "ticket TRI-{id} is closed; reopen it first"),
        ("resolved", "escalated", "ticket TRI-{id} is resolved; reopen it first"),
        ("new", "new", "ticket TRI-{id} cannot go from new to new"),
    ],
)
def test_senseless_transitions_are_refused(
    db: Session, config: AppConfig, status: str, to: str, message: str
) -> None:
    ticket = _ticket(db, issue="voucher-missing")
    ticket.status = status
    with pytest.raises(tickets.TransitionError, match=message.format(id=ticket.id)):
        tickets.transition(db, ticket=ticket, to_status=to, actor="x", now=NOW, config=config)
    assert isinstance(tickets.TransitionError("x"), UserError)


def test_reopen_brings_back_a_resolved_ticket_to_its_owner(db: Session, config: AppConfig) -> None:
    ticket = _ticket(db, issue="voucher-missing")
    tickets.escalate(db, ticket=ticket, owner="dev", rule="vouchers", actor="x", now=NOW,
                     config=config)  # fmt: skip
    tickets.resolve(db, ticket=ticket, actor="dev", now=NOW)
    tickets.reopen(db, ticket=ticket, actor="dev", now=NOW, reason="candidate wrote again")
    assert ticket.status == "escalated" and ticket.resolved_at is None
    with pytest.raises(tickets.TransitionError, match="is escalated, not resolved or closed"):
        tickets.reopen(db, ticket=ticket, actor="dev", now=NOW, config=config)


def test_merge_moves_messages_and_events_and_closes_the_merged_one(
    db: Session, config: AppConfig
) -> None:
    keep, dup = _ticket(db, issue="voucher-missing"), _ticket(db, issue="voucher-missing")
    first, second = store_message(db), store_message(db)
    tickets.link_message(db, ticket=keep, message=first)
    tickets.link_message(db, ticket=dup, message=second)
    tickets.merge(db, ticket=dup, into=keep, actor="maria", now=NOW, config=config)
    db.commit()
    linked = db.scalars(select(TicketMessage.message_id).where(TicketMessage.ticket_id == keep.id))
    assert sorted(linked) == [first.id, second.id]
    assert dup.status == "closed" and dup.merged_into_id == keep.id
    moved = db.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == keep.id)).all()
    assert moved.count("open") == 2 and "merge" in moved
    with pytest.raises(tickets.TransitionError, match=f"merged into TRI-{keep.id}"):
        tickets.reopen(db, ticket=dup, actor="x", now=NOW, config=config)


def test_ticket_ids_read_both_ways(config: AppConfig) -> None:
    assert tickets.display_id(config, 12) == "TRI-12"
    assert [tickets.parse_ticket_id(config, s) for s in ("TRI-12", "tri-12", "12", "#12")] == [
        12
    ] * 4
    with pytest.raises(UserError, match="not a ticket id: 'ABC-1'"):
        tickets.parse_ticket_id(config, "ABC-1")


def test_find_open_ticket_ignores_resolved_and_other_issues(db: Session) -> None:
    done = _ticket(db, issue="voucher-missing")
    done.status = "resolved"
    unknown = _ticket(db, issue=None)
    assert tickets.find_open_ticket(db, candidate_key="1234567", issue="voucher-missing") is None
    assert tickets.find_open_ticket(db, candidate_key="1234567", issue=None) is unknown


def test_first_response_is_stored_once(db: Session) -> None:
    ticket = _ticket(db, issue="voucher-scope")
    assert tickets.record_first_response(db, ticket=ticket, now=NOW, business_seconds=60)
    assert not tickets.record_first_response(db, ticket=ticket, now=NOW + timedelta(hours=1))
    assert ticket.first_response_at == NOW and ticket.first_response_seconds == 60
