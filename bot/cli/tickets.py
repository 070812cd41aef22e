"""`triage tickets ...`: open (an agent logging a call or message through the same triage as any
message), list and show tickets; the actions on them are in `ticket_actions.py`."""

import uuid
from datetime import datetime
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.common import print_json, state
from bot.cli.ticket_actions import AS_HELP, add_commands, load, operator, resolve_owner, say
from bot.config.app import AppConfig
from bot.delivery.notifications import candidate_label, masked_facts
from bot.errors import UserError
from bot.intake.flow import take_in
from bot.ops.runtime import Runtime
from bot.store.models import OPEN_STATUSES, STATUSES, Ticket
from bot.store.models.base import utcnow
from bot.store.models.outbox import OutboxItem
from bot.tickets import lifecycle as tickets
from bot.tickets import sla
from bot.types import InboundMessage


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def ticket_summary(config: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """The JSON of one ticket in `tickets list --json`."""
    return {
        "id": ticket.id,
        "ref": tickets.display_id(config, ticket.id),
        "status": ticket.status,
        "issue": ticket.issue,
        "priority": ticket.priority,
        "owner": ticket.owner,
        "team": ticket.team,
        "routing_rule": ticket.routing_rule,
        "candidate": ticket.candidate_mcp_id,
        "candidate_key": ticket.candidate_key,
        "source": ticket.source,
        "subject": ticket.subject,
        "created_at": _iso(ticket.created_at),
        "first_response_at": _iso(ticket.first_response_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "sla_due_at": _iso(ticket.sla_due_at),
        "sla_paused": ticket.sla_paused_at is not None,
        "resolved_at": _iso(ticket.resolved_at),
        "escalation_level": ticket.escalation_level,
        "group_id": ticket.group_id,
        "merged_into": ticket.merged_into_id,
    }


def deliveries_of(session: Session, *, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's outgoing messages and how their delivery went (failures stay visible)."""
    items = session.scalars(
        select(OutboxItem).where(OutboxItem.ticket_id == ticket_id).order_by(OutboxItem.id)
    )
    return [
        {
            "channel": item.channel,
            "kind": item.kind,
            "recipient": item.recipient,
            "status": item.status,
            "attempts": item.attempts,
            "last_error": item.last_error,
            "next_attempt_at": _iso(item.next_attempt_at) if item.status == "pending" else None,
            "sent_at": _iso(item.sent_at),
        }
        for item in items
    ]


def ticket_detail(config: AppConfig, ticket: Ticket, *, now: datetime) -> dict[str, Any]:
    detail = ticket_summary(config, ticket)
    detail |= {
        "sla_state": sla.sla_state(ticket, now=now, due_soon=config.escalation.due_soon)
        if ticket.status in ("new", "answered", "waiting-on-candidate", "escalated")
        else None,
        "sla_paused_seconds": ticket.sla_paused_seconds,
        "first_response_seconds": ticket.first_response_seconds,
        "resolution_seconds": ticket.resolution_seconds,
        "chase_count": ticket.chase_count,
        "facts": masked_facts(ticket),
        "answer": ticket.answer,
        "events": [
            {
                "at": _iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "reason": e.reason,
                "data": e.data,
            }
            for e in ticket.events
        ],
    }
    return detail


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="List, show and work on tickets.", no_args_is_help=True)
    app.add_typer(group, name="tickets")
    add_commands(group)

    @group.command("open")
    def open_(
        ctx: typer.Context,
        text: str = typer.Argument(..., help="What the candidate said."),
        candidate: str = typer.Option(..., "--candidate", help="MCP ID or email address."),
        source: str = typer.Option("phone", "--source", help="phone, email, slack or web."),
        as_json: bool = typer.Option(False, "--json"),
        as_: str | None = typer.Option(None, "--as", help=AS_HELP),
    ) -> None:
        """Log a message on a candidate's behalf; it goes through the same triage as any."""
        if source not in ("phone", "email", "slack", "web"):
            raise UserError(f"unknown source {source!r} (use phone, email, slack or web)")
        if not text.strip():
            raise UserError("the message text is empty")
        cli = state(ctx)
        settings = cli.settings()
        message = InboundMessage(
            source=source,  # type: ignore[arg-type]
            external_id=f"cli:{uuid.uuid4()}",
            text=text,
            on_behalf_of=candidate.strip(),
            actor=operator(as_).name,
            # The agent tells the candidate; the bot sends nothing on its own.
            suppress_reply=True,
        )
        with cli.sessions()() as session, session.begin():
            outcome = take_in(session, Runtime(settings), message, now=utcnow())
            facts = {
                t.ticket_id: masked_facts(tickets.get_ticket(session, ticket_id=t.ticket_id))
                for t in outcome.tickets
            }
        if as_json:
            print_json(outcome.model_dump(mode="json"))
            return
        if not outcome.tickets:
            say("no ticket: the message carries no request")
        for t in outcome.tickets:
            verb = "opened" if t.created else "updated"
            say(
                f"{tickets.display_id(settings.app, t.ticket_id)} {verb}: "
                f"{t.issue or 'unknown issue'} · {t.status} · {t.priority}"
                + (f" · owner {t.owner} (rule {t.routing_rule})" if t.owner else "")
            )
            for line in facts[t.ticket_id]:
                say(f"  fact: {line}")
            if t.answer:
                say(f"  answer: {t.answer}")

    @group.command("list")
    def list_tickets(
        ctx: typer.Context,
        status: str | None = typer.Option(None, "--status", help="e.g. escalated, open"),
        owner: str | None = typer.Option(None, "--owner"),
        issue: str | None = typer.Option(None, "--issue"),
        limit: int = typer.Option(200, "--limit", min=1),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Tickets, newest first (`--status open` for every open state)."""
        cli = state(ctx)
        config = cli.settings().app
        query = select(Ticket).order_by(Ticket.id.desc()).limit(limit)
        if status == "open":
            query = query.where(Ticket.status.in_(OPEN_STATUSES))
        elif status is not None:
            if status not in STATUSES:
                raise UserError(f"unknown status {status!r} (use open or {', '.join(STATUSES)})")
            query = query.where(Ticket.status == status)
        if owner is not None:
            query = query.where(Ticket.owner == resolve_owner(config, owner))
        if issue is not None:
            query = query.where(Ticket.issue == issue)
        with cli.sessions()() as session:
            found = list(session.scalars(query))
            if as_json:
                print_json([ticket_summary(config, t) for t in found])
                return
            table = Table("ticket", "status", "issue", "priority", "owner", "candidate", "created")
            for t in found:
                table.add_row(
                    tickets.display_id(config, t.id), t.status, t.issue or "unknown", t.priority,
                    t.owner or "-", candidate_label(t), f"{t.created_at:%Y-%m-%d %H:%M}",
                )  # fmt: skip
            say(table if found else "no tickets")

    @group.command("show")
    def show(
        ctx: typer.Context, ticket_id: str, as_json: bool = typer.Option(False, "--json")
    ) -> None:
        """One ticket with its routing rule, record facts and audit trail."""
        cli = state(ctx)
        config = cli.settings().app
        with cli.sessions()() as session:
            ticket = load(session, config, ticket_id)
            detail = ticket_detail(config, ticket, now=utcnow())
            detail["deliveries"] = deliveries_of(session, ticket_id=ticket.id)
        if as_json:
            print_json(detail)
            return
        say(
            f"[bold]{detail['ref']}[/] {detail['issue'] or 'unknown issue'} · {detail['status']}"
            f" · {detail['priority']} · owner {detail['owner'] or '-'}"
            f" (rule {detail['routing_rule'] or '-'})"
        )
        say(f"candidate: {candidate_label(ticket)} · source {detail['source']}")
        say(
            f"SLA: {detail['sla_state'] or '-'} · first response due "
            f"{detail['first_response_due_at'] or '-'} (at {detail['first_response_at'] or '-'})"
            f" · resolution due {detail['sla_due_at'] or '-'}"
        )
        for line in detail["facts"]:
            say(f"  fact: {line}")
        for event in detail["events"]:
            move = f"{event['from'] or '-'} -> {event['to']}" if event["to"] else ""
            why = f": {event['reason']}" if event["reason"] else ""
            say(f"  {event['at'][:16]} {event['actor']} {event['action']} {move}{why}")
        for item in detail["deliveries"]:
            error = f" · last error: {item['last_error']}" if item["last_error"] else ""
            say(
                f"  delivery {item['channel']}/{item['kind']} to {item['recipient']}: "
                f"{item['status']} after {item['attempts']} attempt(s){error}"
            )
