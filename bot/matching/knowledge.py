"""The knowledge base: one YAML file per known issue plus the exam catalogue, validated at load.

Adding a known issue is adding a file to `knowledge/`; nothing in the code lists the ids.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config.yaml_source import read_yaml
from bot.errors import ConfigError, UserError

EXAMS_FILE = "exams.yaml"

CheckName = Literal[
    "registrations",
    "invitations",
    "restriction",
    "availability",
    "vouchers",
    "voucher_scope",
    "results",
    "certifications",
]
Team = Literal["registrations", "vouchers", "exams", "triage"]
Priority = Literal["low", "normal", "high"]
EntityKind = Literal[
    "exams", "providers", "regions", "mcp_ids", "emails", "voucher_codes", "error_messages", "dates"
]

_ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_EXAM_PATTERN = r"^\d{2}-\d{3}$"


class KnowledgeError(UserError):
    """A knowledge file is invalid; the message names the file, the field and the problem."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: {field}: " if field else f"{source}: "
        super().__init__(f"{where}{problem}")


def _non_blank(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise ValueError("entries must be non-empty strings")
    return cleaned


class KnownIssue(BaseModel):
    """One known issue: how candidates describe it, what to check, whom to escalate to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    examples: list[str] = Field(min_length=3)
    signals: list[str] = Field(default_factory=list)
    negative: list[str] = Field(default_factory=list)
    entities: list[EntityKind] = Field(default_factory=list)
    check: CheckName | None = None
    team: Team
    priority: Priority = "normal"
    answer: str = Field(min_length=1)

    _clean_examples = field_validator("examples", "signals", "negative")(_non_blank)


class Exam(BaseModel):
    """An exam of the catalogue. Beta results arrive `results_weeks_min`..`_max` weeks after."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=_EXAM_PATTERN)
    title: str = Field(min_length=1)
    beta: bool
    live_counterpart: str | None = Field(default=None, pattern=_EXAM_PATTERN)
    opens_on: date | None = None
    results_weeks_min: int | None = Field(default=None, ge=0, le=52)
    results_weeks_max: int | None = Field(default=None, ge=0, le=52)

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Exam:
        lo, hi = self.results_weeks_min, self.results_weeks_max
        if (lo is None) != (hi is None):
            raise ValueError("results_weeks_min and results_weeks_max go together")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("results_weeks_min is greater than results_weeks_max")
        return self


class _ExamCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exams: list[Exam]


class KnowledgeBase(BaseModel):
    """Every known issue (by id, sorted) and the exam catalogue (by code), plus compiled answers."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    issues: dict[str, KnownIssue]
    exams: dict[str, Exam]
    templates: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    def issue(self, issue_id: str) -> KnownIssue:
        return self.issues[issue_id]

    def render_answer(
        self,
        issue_id: str,
        *,
        facts: dict[str, Any] | None = None,
        entities: dict[str, Any] | None = None,
        candidate: Any = None,
        exam: Exam | dict[str, Any] | None = None,
    ) -> str:
        """Render an issue's answer template; every input is optional for the template."""
        exam_info = exam.model_dump() if isinstance(exam, Exam) else exam
        return (
            self.templates[issue_id]
            .render(facts=facts or {}, entities=entities or {}, candidate=candidate, exam=exam_info)
            .strip()
        )


def _template_env() -> SandboxedEnvironment:
    # Sandboxed: templates are data edited by operators, not code. Trimmed blocks keep YAML
    # multi-line templates readable without stray blank lines.
    return SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True)


def _read_yaml(path: Path) -> Any:
    # The same strict reader as app.yaml: duplicate keys, bad encodings, binary content and
    # runaway nesting are one line naming the file, not a traceback or a silent last-wins.
    try:
        return read_yaml(path)[0]
    except ConfigError as exc:
        where = f"{exc.source}:{exc.line}" if exc.line else exc.source
        raise KnowledgeError(where, exc.key, exc.problem) from None


def _first_error(path: Path, exc: ValidationError) -> KnowledgeError:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"])
    return KnowledgeError(str(path), field, err["msg"])


def load_issue(path: Path, env: SandboxedEnvironment | None = None) -> tuple[KnownIssue, Any]:
    """Load and validate one issue file; returns the issue and its compiled answer template."""
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise KnowledgeError(str(path), "", "expected a mapping of fields")
    try:
        issue = KnownIssue.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, exc) from exc
    if issue.id != path.stem:
        raise KnowledgeError(str(path), "id", f"{issue.id!r} does not match the file name")
    env = env or _template_env()
    try:
        template = env.from_string(issue.answer)
    except TemplateSyntaxError as exc:
        raise KnowledgeError(
            str(path), "answer", f"template syntax error on line {exc.lineno}: {exc.message}"
        ) from exc
    return issue, template


def load_exams(path: Path) -> dict[str, Exam]:
    """Load the exam catalogue; codes must be unique and counterparts must exist."""
    data = _read_yaml(path)
    if isinstance(data, list):
        data = {"exams": data}
    if not isinstance(data, dict):
        raise KnowledgeError(str(path), "", "expected a mapping with an `exams` list")
    try:
        catalogue = _ExamCatalogue.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, exc) from exc
    exams: dict[str, Exam] = {}
    for i, exam in enumerate(catalogue.exams):
        if exam.code in exams:
            raise KnowledgeError(str(path), f"exams.{i}.code", f"duplicate exam {exam.code}")
        exams[exam.code] = exam
    for i, exam in enumerate(catalogue.exams):
        if exam.live_counterpart and exam.live_counterpart not in exams:
            raise KnowledgeError(
                str(path),
                f"exams.{i}.live_counterpart",
                f"{exam.live_counterpart} is not in the catalogue",
            )
    return exams


def load_knowledge(path: Path) -> KnowledgeBase:
    """Load every `<id>.yaml` issue file and `exams.yaml` from a directory, validating all."""
    path = Path(path)
    if not path.is_dir():
        raise KnowledgeError(str(path), "", "knowledge directory not found")
    env = _template_env()
    issues: dict[str, KnownIssue] = {}
    templates: dict[str, Any] = {}
    for file in sorted(path.glob("*.yaml")):
        if file.name == EXAMS_FILE:
            continue
        issue, template = load_issue(file, env)
        issues[issue.id] = issue
        templates[issue.id] = template
    if not issues:
        raise KnowledgeError(str(path), "", "no known-issue files (*.yaml)")
    exams_path = path / EXAMS_FILE
    exams = load_exams(exams_path) if exams_path.exists() else {}
    return KnowledgeBase(issues=issues, exams=exams, templates=templates)
