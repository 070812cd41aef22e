"""Row models for the records files (one per CSV, headers as in DESIGN.md) and `CandidateRecords`,
one candidate's full records as plain objects independent of where they are stored.

Empty cells mean "no value"; lists inside a cell are `;`-separated; dates are ISO 8601.
"""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

MCP_ID = r"^[0-9]{4,10}$"
CANONICAL_EXAM = re.compile(r"\d{2}-\d{3}", re.ASCII)
_EXAM = re.compile(r"^\s*0?([0-9]{2})[-\s]?([0-9]{3})\s*$")
_PROVIDERS = {"prometric": "prometric", "vue": "vue", "pearson vue": "vue", "pearson": "vue"}
YES_WORDS = {"true", "yes", "y", "1"}
NO_WORDS = {"false", "no", "n", "0"}

Provider = Literal["prometric", "vue"]


def canonical_exam(value: object) -> str:
    """`071-621`, `71 621`, `71621` -> `71-621`; anything else is an error."""
    if isinstance(value, str) and CANONICAL_EXAM.fullmatch(value):  # the common case
        return value
    match = _EXAM.match(str(value))
    if not match:
        raise ValueError(f"not an exam code: {value!r} (use e.g. 71-621)")
    return f"{match.group(1)}-{match.group(2)}"


def provider_name(value: object) -> str:
    name = _PROVIDERS.get(str(value).strip().lower())
    if name is None:
        raise ValueError(f"unknown provider {value!r} (use prometric or vue)")
    return name


def _exam_or_none(value: object) -> str | None:
    return None if value is None else canonical_exam(value)


def yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    raise ValueError(f"not a yes/no value: {value!r} (use true or false)")


def _split(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def email_list(value: object) -> list[str]:
    """`a@x.org; B@Y.org` -> `["a@x.org", "b@y.org"]`: lower-cased, each once."""
    emails = [_lower(e) for e in _split(value or [])]
    for email in emails:
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise ValueError(f"not an email address: {email!r}")
    return list(dict.fromkeys(emails))


def scope_list(value: object) -> list[str]:
    """A voucher's scope: `["any"]` (also for a blank cell) or canonical exam codes."""
    parts = _split(value if value is not None else "any")
    if not parts or [p.lower() for p in parts] == ["any"]:
        return ["any"]
    return [canonical_exam(p) for p in parts]


def _aware(value: datetime) -> datetime:
    """Timestamps without a zone are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _lower(value: object) -> str:
    return str(value).strip().lower()


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


ExamCode = Annotated[str, BeforeValidator(canonical_exam)]
ProviderName = Annotated[Provider, BeforeValidator(provider_name)]
Flag = Annotated[bool, BeforeValidator(yes_no)]
McpId = Annotated[str, Field(pattern=MCP_ID)]
Blank = BeforeValidator(_blank_is_none)  # an empty cell in an optional column means "none"


def Text(size: int) -> Any:  # a non-blank string that fits its column
    return Annotated[str, Field(min_length=1, max_length=size)]


class Row(BaseModel):
    """A record row; `key()` is its natural key for upserts. Optional columns may be blank."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)
    file: ClassVar[str]
    key_fields: ClassVar[tuple[str, ...]]

    def key(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self.key_fields)

    @classmethod
    def headers(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def required_headers(cls) -> list[str]:
        return [name for name, f in cls.model_fields.items() if f.is_required()]


class CandidateRow(Row):
    file = "candidates"
    key_fields = ("mcp_id",)

    mcp_id: McpId
    name: Text(200)
    emails: Annotated[list[str], Blank] = []
    country: Text(80)
    region: Text(40)
    slack_user_id: Annotated[str | None, Blank] = Field(default=None, max_length=32)

    _emails = field_validator("emails", mode="before")(lambda v: email_list(v))


class AttemptRow(Row):
    file = "exam_attempts"
    key_fields = ("mcp_id", "exam", "provider", "taken_on")

    mcp_id: McpId
    exam: ExamCode
    provider: ProviderName
    taken_on: date
    beta: Flag
    result: Literal["pass", "fail", "pending"]

    _result = field_validator("result", mode="before")(lambda v: _lower(v) if v else v)


class RegistrationRow(Row):
    file = "registrations"
    key_fields = ("mcp_id", "exam", "provider", "created_at")

    mcp_id: McpId
    exam: ExamCode
    provider: ProviderName
    created_at: datetime
    created_by: Literal["candidate", "agent", "provider", "unknown"]
    scheduled_for: Annotated[datetime | None, Blank] = None

    _zone = field_validator("created_at", "scheduled_for")(lambda v: _aware(v) if v else v)
    _by = field_validator("created_by", mode="before")(lambda v: _lower(v) if v else v)


class InvitationRow(Row):
    file = "invitations"
    key_fields = ("mcp_id", "campaign", "exam")

    mcp_id: McpId
    campaign: Text(80)
    exam: ExamCode
    sent_at: Annotated[datetime | None, Blank] = None
    promo_code: Annotated[str | None, Blank] = Field(
        default=None, max_length=64, repr=False
    )  # a secret
    status: Literal["sent", "bounced", "pending"]

    _zone = field_validator("sent_at")(lambda v: _aware(v) if v else v)
    _status = field_validator("status", mode="before")(lambda v: _lower(v) if v else v)


class VoucherRow(Row):
    file = "vouchers"
    key_fields = ("code",)

    mcp_id: McpId
    code: str = Field(min_length=4, max_length=64, repr=False)  # a secret
    issued_at: date
    for_exam: Annotated[str | None, BeforeValidator(_exam_or_none), Blank] = None
    scope: Annotated[list[str], Blank] = ["any"]  # ["any"] or exam codes
    redeemed_at: Annotated[date | None, Blank] = None

    _scope = field_validator("scope", mode="before")(lambda v: scope_list(v))

    @property
    def any_exam(self) -> bool:
        return self.scope == ["any"]

    def covers(self, exam: str) -> bool:
        return self.any_exam or exam in self.scope


class CertificationRow(Row):
    file = "certifications"
    key_fields = ("mcp_id", "certification")

    mcp_id: McpId
    certification: Text(120)
    granted_on: date


class RestrictionRow(Row):
    file = "restrictions"
    key_fields = ("exam", "country")

    exam: ExamCode
    country: Text(80)
    since: date


# Import order: candidates first (the other files refer to them).
ROW_MODELS: dict[str, type[Row]] = {
    model.file: model
    for model in (
        CandidateRow,
        RestrictionRow,
        AttemptRow,
        RegistrationRow,
        InvitationRow,
        VoucherRow,
        CertificationRow,
    )
}


class CandidateRecords(BaseModel):
    """Everything on record about one candidate; the restrictions are those of their country."""

    model_config = ConfigDict(frozen=True)

    candidate: CandidateRow
    attempts: list[AttemptRow] = []
    registrations: list[RegistrationRow] = []
    invitations: list[InvitationRow] = []
    vouchers: list[VoucherRow] = []
    certifications: list[CertificationRow] = []
    restrictions: list[RestrictionRow] = []

    @property
    def mcp_id(self) -> str:
        return self.candidate.mcp_id
