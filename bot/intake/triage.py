"""Triage one message: parse it, match it to known issues, identify the candidate, run each
issue's records check and decide answer or escalate. Pure of side effects but the records read.

A message whose writer is not proven to be the candidate it names (`bot.privacy.disclosure`)
runs no check: it becomes the writer's own ticket, linked to that candidate, for a person."""

import re
from datetime import datetime

from sqlalchemy.orm import Session

from bot.intake.decisions import decide
from bot.matching.matcher import Classification, Matcher
from bot.matching.model import Thresholds
from bot.ops.runtime import Runtime
from bot.privacy.disclosure import judge, writer_key
from bot.records.checks import run_check
from bot.records.identify import Identification, identify
from bot.records.result import CheckResult, unavailable_result
from bot.records.source import RecordsSource
from bot.text.parse import parse_message
from bot.text.regions import DESK_REGIONS
from bot.types import NOT_A_REQUEST, InboundMessage, IssueVerdict, TriagedMessage

# A "solved, thanks" that may resolve the candidate's open ticket (only when nothing else is asked).
_MCP_ID = re.compile(r"^\d{4,10}$")


def classify(matcher: Matcher, message: InboundMessage, *, now: datetime) -> Classification:
    """Parse and match the message's text (no records read)."""
    return matcher.classify_parsed(parse_message(message.text, today=now.date()), explain=False)


def triage_message(
    session: Session,
    runtime: Runtime,
    message: InboundMessage,
    *,
    thread_ticket_id: int | None,
    now: datetime,
    classification: Classification | None = None,
    records: RecordsSource | None = None,
    matcher: Matcher | None = None,
) -> TriagedMessage:
    """`classification` and `records` (a batch's: classified and read beforehand) default to
    classifying here with the deployment's newest passing model and the runtime's records."""
    matcher = matcher or runtime.matcher_for(session)
    if classification is None:
        classification = classify(matcher, message, now=now)
    entities = classification.entities.model_dump()
    identification = _identify(session, runtime, message, entities["mcp_ids"], records)
    disclosure = judge(message, identification)
    if disclosure.unverified:
        assert disclosure.about is not None
        named, why = disclosure.about.mcp_id, disclosure.reason
        return _unverified(
            runtime, message, classification, matcher.thresholds, named, why, thread_ticket_id
        )
    quoted = entities["mcp_ids"]
    unmatched = identification.candidate is None and not identification.unavailable
    if quoted and unmatched and not message.actor:
        # An MCP id that matches nobody (or several) gets the same answer as one that matches
        # someone the writer is not proven to be: the reply never tells which ids exist.
        why = "the MCP id matches no single candidate"
        return _unverified(
            runtime, message, classification, matcher.thresholds, quoted[0], why, thread_ticket_id
        )
    candidate = identification.candidate
    verdicts = [
        verdict_for(runtime, issue_id, score, confident, identification, entities, now)
        for issue_id, score, confident in _issues(classification, matcher.thresholds)
    ]
    desk_region, country = _places(entities)
    sender_key = writer_key(message)
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


def _places(entities: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """The desk region and the country the message itself names."""
    regions = entities["regions"]
    desk_region = next((r for r in regions if r in DESK_REGIONS), None)
    country = next((r for r in regions if r not in DESK_REGIONS), None)
    return desk_region, country


def _unverified(
    runtime: Runtime,
    message: InboundMessage,
    classification: Classification,
    thresholds: Thresholds,
    named: str,
    why: str,
    thread_ticket_id: int | None,
) -> TriagedMessage:
    """The writer's own ticket about a candidate they are not proven to be: keyed on the writer,
    routed by what the text says (the candidate's region would hint at who they are), no records
    check, no drafted answer, no name: a person verifies the writer first."""
    entities = classification.entities.model_dump()
    desk_region, country = _places(entities)
    reason = f"identity unverified: the message names MCP {named}; {why}"
    verdicts = []
    for issue_id, score, _confident in _issues(classification, thresholds):
        known = runtime.knowledge.issues.get(issue_id) if issue_id else None
        verdicts.append(
            IssueVerdict(
                issue=issue_id,
                score=round(score, 3),
                action="none" if issue_id == NOT_A_REQUEST else "escalate",
                facts={"decision_reason": reason, "identity": "unverified", "named_mcp_id": named},
                team=known.team if known else None,
                default_priority=known.priority if known else "normal",
            )
        )
    return TriagedMessage(
        source=message.source,
        candidate_key=writer_key(message),
        region=desk_region,
        country=country,
        exams=entities["exams"],
        signals=classification.signals,
        verdicts=verdicts,
        ticket_id=thread_ticket_id,
        entities=entities,
        actor=message.actor,
        identity_unverified=True,
        named_mcp_id=named,
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
    session: Session,
    runtime: Runtime,
    message: InboundMessage,
    mcp_ids: list[str],
    records: RecordsSource | None = None,
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
        records or runtime.records(session),
        sender_email=sender_email,
        slack_user_id=slack_user,
        mcp_ids=mcp_ids,
    )


def verdict_for(
    runtime: Runtime,
    issue_id: str | None,
    score: float,
    confident: bool,
    identification: Identification,
    entities: dict[str, list[str]],
    now: datetime,
) -> IssueVerdict:
    """Run the issue's records check for the identified candidate and decide what to do."""
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
