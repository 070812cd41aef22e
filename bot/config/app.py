"""The deployment's structured configuration, `app.yaml`, validated with pydantic.

A bad file stops start-up with one line naming the file, the line, the key and the problem; the
file is read by `yaml_source`, the cross-references are checked by `references`.
"""

import re
from collections.abc import Collection
from datetime import date, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.config.references import issue_problems, reference_problems
from bot.config.yaml_source import line_of, read_yaml
from bot.errors import ConfigError
from bot.tickets.permissions import check_overrides
from bot.types import Priority, Source

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: object) -> timedelta:
    """`90m`, `4h`, `2d`, `1d 4h` or a number of minutes."""
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, int | float):
            return timedelta(minutes=value)
        match = _DURATION.match(str(value))
        if not match or not any(match.groups()):
            raise ValueError(f"not a duration: {value!r} (use e.g. 30m, 4h, 2d)")
        days, hours, minutes = (int(g or 0) for g in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes)
    except OverflowError:  # timedelta's range: pydantic reports ValueErrors, not this
        raise ValueError(f"too long a duration: {value!r}") from None


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


class Desk(Strict):
    name: str = "Help desk"
    timezone: str = "UTC"
    ticket_prefix: str = "TRI"
    bot_email: str = "triage@desk.example.org"
    message_id_domain: str = "triage.desk.example.org"

    _tz = field_validator("timezone")(check_timezone)


class Owner(Strict):
    """A named person who can own tickets."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    email: str
    slack_user_id: str | None = None
    timezone: str = "UTC"
    calendar: str = "24x7"
    backup: str | None = None

    _tz = field_validator("timezone")(check_timezone)


class Team(Strict):
    lead: str
    members: list[str] = []


class Calendar(Strict):
    """Business hours per weekday in the calendar's time zone, plus holidays."""

    timezone: str = "UTC"
    hours: dict[str, str] = {}  # e.g. {"mon-fri": "09:00-17:30"}
    holidays: list[date] = []

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for days, span in value.items():
            expand_days(days)
            parse_span(span)
        return value

    def opening_hours(self) -> dict[int, tuple[time, time]]:
        """Weekday number (Monday 0) to its opening and closing time."""
        table: dict[int, tuple[time, time]] = {}
        for days, span in self.hours.items():
            for day in expand_days(days):
                table[day] = parse_span(span)
        return table


def expand_days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"bad weekday range {spec!r} (use e.g. mon-fri or sat,sun)")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days.extend(range(start, end + 1))
    return days


def parse_span(span: str) -> tuple[time, time]:
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in span.split("-"))
    except ValueError:
        raise ValueError(f"bad hours {span!r} (use e.g. 09:00-17:30)") from None
    if closes <= opens:
        raise ValueError(f"bad hours {span!r}: closes before it opens")
    return opens, closes


class RuleMatch(Strict):
    """Every listed condition must hold; an empty condition matches anything."""

    issues: list[str] = []
    regions: list[str] = []
    countries: list[str] = []
    exams: list[str] = []
    priorities: list[Priority] = []
    sources: list[Source] = []
    unknown_issue: bool = False


class RoutingRule(Strict):
    name: str
    match: RuleMatch = RuleMatch()
    owner: str | None = None
    team: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "RoutingRule":
        if (self.owner is None) == (self.team is None):
            raise ValueError("a rule names exactly one of owner or team")
        return self


class SlaTarget(Strict):
    first_response: timedelta
    resolution: timedelta

    _durations = field_validator("first_response", "resolution", mode="before")(
        lambda value: parse_duration(value)
    )


class Escalation(Strict):
    due_soon: timedelta = timedelta(hours=1)
    # Steps: `owner`, `backup` (the owner's backup), `team_lead`, `triage_lead`, or an owner id.
    chain: list[str] = ["owner", "backup", "team_lead"]
    # A sweep that finds more steps than this due for one person sends that person one summary
    # (per channel) instead of a notice per ticket.
    summary_threshold: int = Field(default=3, ge=0)

    _due = field_validator("due_soon", mode="before")(lambda value: parse_duration(value))


class DigestSchedule(Strict):
    owner: str
    at: time = time(8, 0)
    days: str = "mon-fri"
    channels: list[Literal["slack", "email"]] = ["slack", "email"]

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        expand_days(value)
        return value


class SlackConfig(Strict):
    command: str = "/triage"
    intake_channels: list[str] = []
    agent_channels: list[str] = []
    agent_user_groups: list[str] = []
    agent_users: list[str] = []
    public_url: str = "https://triage.example.org"


class RecordsHttp(Strict):
    base_url: str
    timeout_seconds: float = 3.0
    retries: int = 3
    cache_seconds: int = 60


class RecordsConfig(Strict):
    source: Literal["database", "http"] = "database"
    http: RecordsHttp | None = None
    vouchers_per_beta_exam: int = 1

    @model_validator(mode="after")
    def _http_needs_url(self) -> "RecordsConfig":
        if self.source == "http" and self.http is None:
            raise ValueError("source 'http' needs an 'http' section with base_url")
        return self


class EmailConfig(Strict):
    auto_reply_limit_per_hour: int = 5
    # Mail is taken in by the batch, one transaction each: up to this many messages, or what
    # came within this many seconds of the batch's first message.
    batch_size: int = Field(default=200, ge=1, le=5000)
    batch_seconds: float = Field(default=1.0, gt=0, le=60)
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    max_attachment_bytes: int = 5_000_000
    # The authserv-id the desk's own mail server writes in Authentication-Results (README).
    trusted_authserv_id: str | None = None


class SurgesConfig(Strict):
    """Surge detection, a worker job (`bot.surges`): over the last `window`, unsure readings
    that read alike (cosine `similarity` of the matcher's text features), and known issues far
    above their trailing rate; either needs at least `min_count` tickets."""

    enabled: bool = True
    # How often the job looks; a look with no ticket since the last does nothing, so a busy
    # desk is looked at as each wave message comes, and a quiet one costs nothing.
    every: timedelta = timedelta(minutes=1)
    window: timedelta = timedelta(hours=2)
    min_count: int = Field(default=5, ge=2)
    # A known issue surges at `rate_factor` times its trailing rate for the window's length,
    # when a count that high is less likely than `poisson_tail` under that rate.
    rate_factor: float = Field(default=3.0, ge=1.0)
    poisson_tail: float = Field(default=0.001, gt=0, lt=1)
    # A known issue read at `pool_factor` times its trailing rate has its readings grouped with
    # the unsure ones: a wave the matcher reads partly as a known issue is one group.
    pool_factor: float = Field(default=2.0, ge=1.0)
    # Unsure readings naming one exam, provider or region far above their rate, and readings
    # using one word far above its rate, are a wave when each reads at least this much like the
    # rest (a looser bar: they share the place or the word).
    scope_similarity: float = Field(default=0.01, ge=0, lt=1)
    # A known issue far above its rate keeps the members that read at least this much alike.
    rate_similarity: float = Field(default=0.03, ge=0, lt=1)
    # A word used far above its rate (per issue, and in unsure mail): a far smaller tail, as
    # every word of the window is tested (thousands of chances to be unlikely by luck).
    word_tail: float = Field(default=1e-7, gt=0, lt=1)
    history: timedelta = timedelta(days=14)
    similarity: float = Field(default=0.08, gt=0, lt=1)
    # Where "Make it a known issue" writes its draft knowledge files (relative: to the
    # working folder); `triage knowledge add DRAFT` copies a reviewed one into knowledge/.
    drafts_dir: str = "knowledge-drafts"

    _durations = field_validator("every", "window", "history", mode="before")(
        lambda value: parse_duration(value)
    )

    @model_validator(mode="after")
    def _history_covers_window(self) -> "SurgesConfig":
        if self.history < self.window * 2:
            raise ValueError("history must be at least twice the window")
        return self


def _permission_overrides(value: object) -> dict[str, dict[str, str]]:
    """`permissions:` cells, role -> action -> grant; YAML's bare yes/no arrive as booleans."""
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError("expected role: {action: grant} mappings")
    cells = {
        str(role): {
            str(act): ("yes" if grant else "no") if isinstance(grant, bool) else str(grant)
            for act, grant in acts.items()
        }
        for role, acts in value.items()
    }
    check_overrides(cells)
    return cells


class AppConfig(Strict):
    desk: Desk = Desk()
    owners: list[Owner]
    teams: dict[str, Team] = {}
    triage_lead: str
    calendars: dict[str, Calendar] = {}
    routing: list[RoutingRule] = []
    sla: dict[Priority, SlaTarget] = {}
    escalation: Escalation = Escalation()
    digests: list[DigestSchedule] = []
    slack: SlackConfig = SlackConfig()
    email: EmailConfig = EmailConfig()
    records: RecordsConfig = RecordsConfig()
    surges: SurgesConfig = SurgesConfig()
    # Cells of the who-may-do-what table this desk changes (bot/tickets/permissions.py).
    permissions: dict[str, dict[str, str]] = {}

    _permissions = field_validator("permissions", mode="before")(_permission_overrides)

    @model_validator(mode="after")
    def _references(self) -> "AppConfig":
        problems = reference_problems(self)
        if problems:
            key, problem = problems[0]
            raise ValueError(f"@{key}@{problem}")  # load_app_config takes the key back out
        return self

    def owner(self, owner_id: str) -> Owner:
        return next(owner for owner in self.owners if owner.id == owner_id)

    def find_owner(self, owner_id: str | None) -> Owner | None:
        return next((owner for owner in self.owners if owner.id == owner_id), None)

    def owner_by_slack(self, slack_user_id: str) -> Owner | None:
        return next((o for o in self.owners if o.slack_user_id == slack_user_id), None)

    def team_of(self, owner_id: str) -> str | None:
        return next(
            (name for name, t in self.teams.items() if owner_id in (t.lead, *t.members)), None
        )


def _error_key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def load_app_config(path: Path, *, issue_ids: Collection[str] | None = None) -> AppConfig:
    """Read and validate `app.yaml`; any problem becomes one `ConfigError` line naming the file,
    the line where known, the key and the problem. With `issue_ids` (the knowledge base's), a
    routing rule naming another issue is refused too."""
    source = str(path)
    raw, lines = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "expected a mapping of settings at the top level")
    try:
        config = AppConfig.model_validate(raw)
    except ValidationError as exc:
        key, problem = _first_problem(exc)
        raise ConfigError(source, key, problem, line=line_of(lines, key)) from None
    problems = issue_problems(config, issue_ids) if issue_ids is not None else []
    if problems:
        key, problem = problems[0]
        raise ConfigError(source, key, problem, line=line_of(lines, key))
    return config


def _first_problem(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("@"):  # cross-reference errors carry their own key
        _, key, problem = message.split("@", 2)
        return key, problem
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif isinstance(got := error.get("input"), str) and len(got) <= 60 and repr(got) not in message:
        message = f"{message} (got {got!r})"
    return _error_key(error["loc"]), message
