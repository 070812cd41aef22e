"""Answer or escalate: the record facts decide, per the catalogue in DESIGN.md.

Answers are rendered from the issue's Jinja2 template (sandboxed: templates are data edited by
operators) with `facts`, `entities`, `candidate` and `exam`.
"""

import functools
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bot.records.identify import Identification
from bot.records.result import CheckResult

Action = Literal["answer", "escalate", "ask-id", "none"]

ASK_FOR_ID = (
    "Thanks for your message. We could not match it to a candidate record{why}. "
    "Please reply with your MCP ID (the 4 to 10 digit number on your transcript). We share record "
    "details only with the candidate: at the email address or Slack account on their record, or "
    "after one of our agents has verified who you are."
)
# Issues a person always reviews, whatever the records say.
ALWAYS_ESCALATE = {"unexpected-registration", "promo-code-rejected"}
# Checks that read nothing from the candidate's records.
NEEDS_NO_CANDIDATE = {"availability"}


@dataclass(frozen=True)
class Decision:
    action: Action
    answer: str | None
    reason: str


def decide(
    *,
    issue_id: str | None,
    check: CheckResult | None,
    identification: Identification | None,
    answer_template: str | None,
    entities: dict[str, Any],
    records_unavailable: bool,
    confident: bool = True,
) -> Decision:
    """What to do with one issue of a ticket, from the check's facts. A reading below the
    matcher's auto-answer threshold (`confident` False) is never answered alone: the answer is
    drafted for an agent."""
    if issue_id == "not-a-request":
        return Decision("none", None, "not a request")
    if issue_id is None:
        if not confident:
            return Decision("escalate", None, "read as not a request, but unsure: needs a person")
        return Decision("escalate", None, "unknown issue: a person looks at it")
    if records_unavailable or (identification is not None and identification.unavailable):
        return Decision("escalate", None, "records unavailable: a person checks them")
    needs_candidate = check is not None and check.name not in NEEDS_NO_CANDIDATE
    if needs_candidate and (identification is None or identification.candidate is None):
        return _ask_id(identification)

    def render() -> str | None:
        hide = issue_id == "registration-code-request"
        return _render(answer_template, check, identification, entities, hide_codes=hide)

    if issue_id in ALWAYS_ESCALATE:
        why = check.reason if check else "no records check"
        return Decision("escalate", render(), f"{issue_id} is always reviewed: {why}")
    escalate, reason = _escalates(issue_id, check)
    if escalate:
        return Decision("escalate", render(), reason)
    answer = render()
    if answer is None:
        return Decision("escalate", None, f"no answer template for {issue_id}: {reason}")
    if not confident:
        return Decision(
            "escalate", answer, f"low confidence: answer drafted for an agent ({reason})"
        )
    return Decision("answer", answer, reason)


def _escalates(issue_id: str, check: CheckResult | None) -> tuple[bool, str]:
    if check is None:
        return False, "no records check needed"
    facts = check.facts
    if issue_id == "invitation-not-received":
        # a resend (sent or bounced) or a missing entry needs the owner; pending goes out anyway
        if facts.get("status") == "pending":
            return False, "invitation not sent yet: goes out with the next batch"
        return True, f"resend or list check needed: {check.reason}"
    if issue_id == "registration-code-request":
        if facts.get("on_list"):
            return True, "invited: the owner resends the code privately"
        return False, "not invited: the beta is by invitation"
    if issue_id == "retake-registration-blocked":
        return False, "the provider's policy: phone a supervisor or use the other provider"
    return check.escalate, check.reason


def _ask_id(identification: Identification | None) -> Decision:
    if identification is not None and identification.ambiguous:
        ids = ", ".join(identification.ambiguous)
        answer = ASK_FOR_ID.format(why=" (several candidates share your details)")
        return Decision("ask-id", answer, f"ambiguous candidate: {ids}")
    return Decision("ask-id", ASK_FOR_ID.format(why=""), "candidate not identified")


def _render(
    template: str | None,
    check: CheckResult | None,
    identification: Identification | None,
    entities: dict[str, Any],
    *,
    hide_codes: bool,
) -> str | None:
    if not template:
        return None
    facts = dict(check.facts) if check else {}
    if hide_codes:  # codes in facts are masked already; this answer carries none at all
        facts = _without_codes(facts)
    records = identification.candidate if identification else None
    shown = {"mcp_id", "name", "country", "region"}
    candidate = records.candidate.model_dump(include=shown) if records else None
    try:
        text = _compiled(template).render(
            facts=facts,
            entities=entities,
            candidate=candidate,
            exam=check.exam if check else None,
        )
    except TemplateError:
        return None  # a broken template must not send a half answer: a person answers
    return text.strip() or None


_ENVIRONMENT = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    """Compiled once per template text (compiling costs more than rendering)."""
    return _ENVIRONMENT.from_string(template)


def _without_codes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_codes(v) for k, v in value.items() if "code" not in k}
    if isinstance(value, list):
        return [_without_codes(v) for v in value]
    return value
