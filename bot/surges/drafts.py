"""The draft knowledge file "Make it a known issue" writes: what the surge's messages share, in
the shape of `knowledge/<id>.yaml`, with personal data scrubbed from every example, for the
triage lead to review (in a pull request, or with `triage knowledge add DRAFT`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from bot.matching.knowledge import KnownIssue
from bot.surges.detect import phrasing
from bot.surges.readings import Reading

MAX_EXAMPLES = 15
_SLUG = re.compile(r"[^a-z0-9]+")
ANSWER = (
    "Thank you for letting us know. We are aware of this problem ({title}) and are working on it"
    " with the people who can fix it; we will write again when it is solved."
)


def slug(text: str, *, words: int = 6) -> str:
    parts = [p for p in _SLUG.split(text.lower()) if p][:words]
    return "-".join(parts)


def default_id(surge_id: int, shared: dict[str, object]) -> str:
    """From the shared error text when there is one (`error-vue-4021-eligibility-record`),
    else `surge-<id>`."""
    errors = [str(e) for e in shared.get("errors") or [] if "*" not in str(e)]  # type: ignore[attr-defined]
    found = slug(errors[0]) if errors else ""
    return found if len(found) >= 3 else f"surge-{surge_id}"


def build(
    *,
    issue_id: str,
    title: str,
    members: Sequence[Reading],
    shared: dict[str, object],
) -> tuple[KnownIssue, str]:
    """The draft issue (validated as any knowledge file is) and its YAML."""
    examples = list(dict.fromkeys(phrasing(r, members) for r in members if r.text.strip()))
    entities = [k for k in ("exams", "providers", "regions") if shared.get(k)]
    errors = [str(e) for e in shared.get("errors") or [] if "*" not in str(e)]  # type: ignore[attr-defined]
    if errors:
        entities.append("error_messages")
    described = ", ".join(
        f"{k} {', '.join(map(str, shared[k]))}"  # type: ignore[call-overload]
        for k in ("exams", "providers", "regions") if shared.get(k)
    )  # fmt: skip
    description = (
        f"Drafted from a surge of {len(members)} messages"
        + (f" about {described}" if described else "")
        + (f', quoting "{errors[0]}"' if errors else "")
        + ". Review the wording, the check, the team and the answer before adding it."
    )
    issue = KnownIssue(
        id=issue_id,
        title=title,
        description=description,
        examples=examples[:MAX_EXAMPLES],
        signals=errors[:3],
        entities=entities,  # type: ignore[arg-type]
        check=None,
        team="triage",
        priority="normal",
        # The answer is a Jinja template rendered with the candidate's record; the title may
        # quote what candidates wrote, so no brace of theirs may open a tag there.
        answer=ANSWER.format(title=title.rstrip(".").replace("{", "(").replace("}", ")")),
    )
    return issue, dump(issue)


def dump(issue: KnownIssue) -> str:
    data = issue.model_dump(exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def write(drafts_dir: Path, issue_id: str, text: str) -> Path:
    """Write the draft as `<drafts_dir>/<id>.yaml` (the folder is made when missing)."""
    drafts_dir.mkdir(parents=True, exist_ok=True)
    path = drafts_dir / f"{issue_id}.yaml"
    path.write_text(text, encoding="utf-8")
    return path
