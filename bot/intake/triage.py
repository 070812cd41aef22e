"""Triage one message: parse it, match it to known issues, identify the candidate, run each
issue's records check and decide answer or escalate. Pure of side effects but the records read."""

import re
from datetime import datetime

from sqlalchemy.orm import Session

from bot.intake.decisions import decide
from bot.matching.matcher import Classification
from bot.matching.model import Thresholds
from bot.ops.runtime import Runtime
from bot.records.checks import run_check
from bot.records.identify import Identification, identify
from bot.records.result import CheckResult, unavailable_result
from bot.text.parse import parse_message
from bot.text.regions import DESK_REGIONS
from bot.types import NOT_A_REQUEST, InboundMessage, IssueVerdict, TriagedMessage

# A "solved, thanks" that may resolve the candidate's open ticket (only when nothing else is asked).
_MCP_ID = re.compile(r"^\d{4,10}$")


def triage_message(
    session: Session,
    runtime: Runtime,
    message: InboundMessage,
    *,
    thread_ticket_id: int | None,
    now: datetime,
) -> TriagedMessage:
    parsed = parse_message(message.text, today=now.date())
    matcher = runtime.matcher_for(session)
    classification = matcher.classify_parsed(parsed, explain=False)
    entities = classification.entities.model_dump()
    identification = _identify(session, runtime, message, entities["mcp_ids"])
    candidate = identification.candidate
    verdicts = [
        _verdict(runtime, issue_id, score, confident, identification, entities, now)
        for issue_id, score, confident in _issues(classification, matcher.thresholds)
    ]
    regions = entities["regions"]
    desk_region = next((r for r in regions if r in DESK_REGIONS), None)
    country = next((r for r in regions if r not in DESK_REGIONS), None)
    sender_key = message.sender_email or message.slack_user_id
    if message.on_behalf_of and not _MCP_ID.match(message.on_behalf_of):
        sender_key = message.on_behalf_of.lower()
    return TriagedMessage(
        source=message.source,
        candidate_key=candidate.mcp_id if candidate else sender_key,
        candidate_mcp_id=candidate.mcp_id if candidate else None,
        candidate_name=candidate.candidate.name if candidate else message.sender_name,
        region=candidate.candidate.region if candidate else desk_region,
        country=candidate.candidate.country if candidate else country,
        exams=entities["exams"],
        signals=classification.signals,
        verdicts=verdicts,
        ticket_id=thread_ticket_id,
        entities=entities,
        actor=message.actor,
    )


def _issues(
    classification: Classification, thresholds: Thresholds
) -> list[tuple[str | None, float, bool]]:
    """Every issue the message carries, with whether the reading is confident enough to act on
    alone. An unsure `not-a-request` becomes a ticket for a person (issue unknown)."""
    confidence = classification.confidence
    if classification.issue is None:
        return [(None, confidence, True)]
    if classification.issue == NOT_A_REQUEST:
        if confidence >= thresholds.not_a_request:
            return [(NOT_A_REQUEST, confidence, True)]
        return [(None, confidence, False)]
    return [
        (i.id, i.score, i.score >= thresholds.auto_answer)
        for i in classification.issues
        if i.id != NOT_A_REQUEST
    ]


def _identify(
    session: Session, runtime: Runtime, message: InboundMessage, mcp_ids: list[str]
) -> Identification:
    """The candidate an agent named wins over what the text and the sender say."""
    sender_email, slack_user = message.sender_email, message.slack_user_id
    named = message.on_behalf_of
    if named:
        if _MCP_ID.match(named):
            mcp_ids = [named]
        else:
            sender_email, slack_user, mcp_ids = named, None, []
    return identify(
        runtime.records(session),
        sender_email=sender_email,
        slack_user_id=slack_user,
        mcp_ids=mcp_ids,
    )


def _verdict(
    runtime: Runtime,
    issue_id: str | None,
    score: float,
    confident: bool,
    identification: Identification,
    entities: dict[str, list[str]],
    now: datetime,
) -> IssueVerdict:
    known = runtime.knowledge.issues.get(issue_id) if issue_id else None
    check: CheckResult | None = None
    if known is not None and known.check is not None:
        if identification.unavailable:
            check = unavailable_result(known.check, identification.unavailable)
        else:
            check = run_check(
                known.check,
                identification.candidate,
                catalogue=runtime.knowledge.exams,
                exams=entities["exams"],
                today=now.date(),
                vouchers_per_beta_exam=runtime.settings.app.records.vouchers_per_beta_exam,
            )
    decision = decide(
        issue_id=issue_id,
        check=check,
        identification=identification,
        answer_template=known.answer if known else None,
        entities=entities,
        records_unavailable=bool(identification.unavailable),
        confident=confident,
    )
    facts = dict(check.facts) if check else {}
    if identification.ambiguous:
        facts["ambiguous_candidates"] = identification.ambiguous
    summary = list(check.summary) if check else []
    if identification.ambiguous:
        summary.append(f"sender matches several candidates: {', '.join(identification.ambiguous)}")
    return IssueVerdict(
        issue=issue_id,
        score=round(score, 3),
        action=decision.action,
        answer=decision.answer,
        facts={**facts, "decision_reason": decision.reason},
        facts_summary=summary,
        team=known.team if known else None,
        default_priority=known.priority if known else "normal",
    )
