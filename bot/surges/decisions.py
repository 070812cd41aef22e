"""What the triage lead decides about a surge, and the answer an agent sends to all of it; the
CLI and Slack call these and only translate the result. Every change to a ticket goes through
the action layer (`bot.tickets.actions`): relabel (and re-route), send answer.

- draft ("Make it a known issue"): write the draft knowledge file; once it is added
  (`triage knowledge add`), `make_known` relabels and re-routes the group's open tickets;
- merge ("Merge into <issue>"): each ticket relabelled as that issue (the correction kept,
  scrubbed, as a labelled example) and re-routed;
- ignore: no further alerts; its tickets may form no new surge;
- answer_all: one answer to every open ticket of the surge, each privately, by the usual rules.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config.app import AppConfig
from bot.errors import UserError
from bot.matching.knowledge import KnowledgeError
from bot.records.source import RecordsSource
from bot.store.models import OPEN_STATUSES, Ticket
from bot.store.models.surges import Surge, SurgeTicket
from bot.surges import alerts, drafts
from bot.surges.alerts import surge_ref
from bot.surges.job import load_ticket_readings
from bot.tickets import actions
from bot.tickets.actions import NotAllowed
from bot.tickets.permissions import Actor


@dataclass
class Outcome:
    """What a decision did, for the door to say."""

    surge_id: int
    ref: str
    status: str
    changed: list[str] = field(default_factory=list)  # ticket refs
    skipped: list[str] = field(default_factory=list)  # "TRI-3: why"
    path: Path | None = None
    draft_id: str | None = None


def get(session: Session, surge_id: int) -> Surge:
    surge = session.get(Surge, surge_id)
    if surge is None:
        raise UserError(f"There is no surge {surge_ref(surge_id)}.")
    return surge


def tickets(session: Session, surge: Surge, *, open_only: bool = True) -> list[Ticket]:
    query = (
        select(Ticket)
        .join(SurgeTicket, SurgeTicket.ticket_id == Ticket.id)
        .where(SurgeTicket.surge_id == surge.id)
        .order_by(Ticket.id)
    )
    if open_only:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    return list(session.scalars(query))


def authorize_lead(config: AppConfig, actor: Actor) -> None:
    """Deciding what a surge is belongs to the triage lead (and the server's operator)."""
    if actor.kind in ("operator", "system") or actor.owner_id == config.triage_lead:
        return
    raise NotAllowed("Sorry, only the triage lead can decide what a surge is.")


def _open(surge: Surge) -> None:
    if surge.status != "open":
        raise UserError(f"{surge_ref(surge.id)} is already {surge.status}.")


def _decided(session: Session, surge: Surge, status: str, actor: Actor, now: datetime) -> None:
    surge.status, surge.decided_by, surge.decided_at, surge.updated_at = (
        status, actor.name, now, now,
    )  # fmt: skip
    alerts.refresh(session, surge, now=now)


def draft(
    session: Session,
    config: AppConfig,
    *,
    surge: Surge,
    actor: Actor,
    now: datetime,
    drafts_dir: Path,
    known: Collection[str],
    issue_id: str | None = None,
    title: str | None = None,
) -> Outcome:
    """Write the draft knowledge file for the surge and keep it on the surge."""
    authorize_lead(config, actor)
    _open(surge)
    issue_id = issue_id or drafts.default_id(surge.id, surge.shared or {})
    if issue_id in known:
        raise UserError(f"`{issue_id}` is already a known issue: merge the surge into it instead.")
    readings = load_ticket_readings(
        session, [t.id for t in tickets(session, surge, open_only=False)]
    )
    errors = [e for e in (surge.shared or {}).get("errors") or [] if "*" not in e]
    title = title or (
        f'Candidates report "{errors[0]}"' if errors else f"New problem ({surge_ref(surge.id)})"
    )
    try:
        _issue, text = drafts.build(
            issue_id=issue_id, title=title, members=readings, shared=surge.shared or {}
        )
    except ValueError as exc:  # pydantic: an id or title the knowledge base would refuse
        raise UserError(f"The draft would not be a valid knowledge file: {exc}") from None
    path = drafts.write(drafts_dir, issue_id, text)
    surge.draft_id, surge.draft, surge.updated_at = issue_id, text, now
    return Outcome(surge.id, surge_ref(surge.id), surge.status, path=path, draft_id=issue_id)


def _relabel_all(
    session: Session,
    config: AppConfig,
    surge: Surge,
    *,
    issue: str,
    catalogue: Collection[str],
    actor: Actor,
    now: datetime,
    records: RecordsSource | None,
) -> Outcome:
    outcome = Outcome(surge.id, surge_ref(surge.id), surge.status)
    for ticket in tickets(session, surge):
        done = actions.relabel(
            session, config, ticket=ticket, issue=issue, catalogue=catalogue, actor=actor,
            now=now, reroute=True, records=records,
        )  # fmt: skip
        (outcome.changed if done.changed else outcome.skipped).append(
            done.ref if done.changed else f"{done.ref}: already {issue}"
        )
    return outcome


def merge(
    session: Session,
    config: AppConfig,
    *,
    surge: Surge,
    issue: str,
    catalogue: Collection[str],
    actor: Actor,
    now: datetime,
    records: RecordsSource | None = None,
) -> Outcome:
    """The surge is a known issue after all: relabel (correction kept) and re-route its tickets."""
    if issue not in catalogue:
        authorize_lead(config, actor)
        raise UserError(f"`{issue}` is not a known issue.")
    return _settle(
        session, config, surge, issue=issue, catalogue=catalogue, status="merged", actor=actor,
        now=now, records=records,
    )  # fmt: skip


def make_known(
    session: Session,
    config: AppConfig,
    *,
    surge: Surge,
    issue: str,
    catalogue: Collection[str],
    actor: Actor,
    now: datetime,
    records: RecordsSource | None = None,
) -> Outcome:
    """The surge's drafted issue was added to the knowledge base: its tickets become that issue."""
    return _settle(
        session, config, surge, issue=issue, catalogue=[*catalogue, issue], status="known",
        actor=actor, now=now, records=records,
    )  # fmt: skip


def _settle(
    session: Session,
    config: AppConfig,
    surge: Surge,
    *,
    issue: str,
    catalogue: Collection[str],
    status: str,
    actor: Actor,
    now: datetime,
    records: RecordsSource | None,
) -> Outcome:
    """The lead's decision that the surge is `issue`: its tickets relabelled and re-routed."""
    authorize_lead(config, actor)
    _open(surge)
    outcome = _relabel_all(
        session, config, surge, issue=issue, catalogue=catalogue, actor=actor, now=now,
        records=records,
    )  # fmt: skip
    surge.issue = issue
    _decided(session, surge, status, actor, now)
    outcome.status = surge.status
    return outcome


def ignore(
    session: Session, config: AppConfig, *, surge: Surge, actor: Actor, now: datetime
) -> Outcome:
    authorize_lead(config, actor)
    _open(surge)
    _decided(session, surge, "ignored", actor, now)
    return Outcome(surge.id, surge_ref(surge.id), surge.status)


def answer_all(
    session: Session,
    config: AppConfig,
    *,
    surge: Surge,
    text: str,
    actor: Actor,
    now: datetime,
    records: RecordsSource | None = None,
) -> Outcome:
    """Send `text` to every open ticket of the surge through the send-answer action: privately,
    to a channel proven the candidate's (or the writer's own, for an unverified writer: the
    text is the agent's general words, never a record fact). A ticket that cannot be answered
    is skipped with its reason; the rest go out."""
    if not text.strip():
        raise UserError("The answer is empty.")
    outcome = Outcome(surge.id, surge_ref(surge.id), surge.status)
    for ticket in tickets(session, surge):
        try:  # send_answer refuses (raises) before it changes anything
            done = actions.send_answer(
                session, config, ticket=ticket, actor=actor, now=now, records=records,
                text=text, once_per=f"surge-{surge.id}",
            )  # fmt: skip
        except NotAllowed:
            raise
        except (UserError, KnowledgeError) as exc:
            outcome.skipped.append(f"{actions.lifecycle.display_id(config, ticket.id)}: {exc}")
            continue
        outcome.changed.append(done.ref)
    if not outcome.changed and outcome.skipped:
        raise UserError("No ticket could be answered: " + "; ".join(outcome.skipped))
    return outcome
