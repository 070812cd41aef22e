"""Validate records rows a column at a time: the import's fast path.

A chunk of rows is turned into columns, and each column goes through one converter: a C-level
`map` over the whole column when every cell is in its plain form (`1234567`, `71-621`,
`2026-03-02`), a comprehension otherwise. A converter accepts only the cells whose value it
computes exactly as the row's pydantic model (`schemas.py`) would; any other cell is BAD, and its
row is validated by the model, which words the error (`file:line: reason`) or, for an unusual
spelling the fast path leaves alone (` 071 621`, `Pearson VUE`), gives the value. So the models
stay the one definition of a valid row, and the fast path only has to be right about what it
accepts (tests/records/test_columns.py checks that the two agree on random cells).

Values come out as they are stored: a voucher's scope joined with `;`, timestamps in UTC.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from bot.records.schemas import (
    CANONICAL_EXAM,
    MCP_ID,
    NO_WORDS,
    ROW_MODELS,
    YES_WORDS,
    Row,
    canonical_exam,
    email_list,
    provider_name,
    scope_list,
    yes_no,
)

BAD: Any = object()  # a cell the fast path leaves to the model
Column = Sequence[Any]
Converter = Callable[[Column], list[Any] | Column]

_MCP = re.compile(MCP_ID.strip("^$"), re.ASCII).fullmatch
_EXAM = CANONICAL_EXAM.fullmatch
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII).fullmatch
# what pydantic and datetime.fromisoformat both read the same way (pydantic reads more)
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?", re.ASCII
).fullmatch
_FLAGS = dict.fromkeys(YES_WORDS, True) | dict.fromkeys(NO_WORDS, False)
_PROVIDERS = frozenset({"prometric", "vue"})


def _all(test: Callable[[Any], Any], cells: Column) -> bool:
    """Every cell passes `test` (False, not an error, for a JSON number or list)."""
    try:
        return all(map(test, cells))
    except TypeError:
        return False


def _guarded(convert: Callable[[str], Any]) -> Callable[[Any], Any]:
    """One cell through a schema function, BAD where it raises or the cell is not text."""

    def one(cell: Any) -> Any:
        if type(cell) is not str:
            return BAD
        try:
            return convert(cell)
        except ValueError:
            return BAD

    return one


def mcp_ids(cells: Column) -> Column:
    if _all(_MCP, cells):
        return cells
    return [c if type(c) is str and _MCP(c) else BAD for c in cells]


def text(size: int, *, low: int = 1) -> Converter:
    """A required string of `low` to `size` characters; padded cells go to the model, which
    strips by its own rules."""

    def convert(cells: Column) -> list[Any]:
        return [
            c if type(c) is str and low <= len(c) <= size and c.strip() == c else BAD for c in cells
        ]

    return convert


def optional_text(size: int) -> Converter:
    def convert(cells: Column) -> list[Any]:
        return [
            None
            if c is None or (type(c) is str and not c.strip())
            else (c if type(c) is str and len(c) <= size and c.strip() == c else BAD)
            for c in cells
        ]

    return convert


_exam = _guarded(canonical_exam)


def exams(cells: Column) -> Column:
    if _all(_EXAM, cells):
        return cells
    return [_exam(c) for c in cells]


def optional_exams(cells: Column) -> list[Any]:
    return [None if c is None or (type(c) is str and not c.strip()) else _exam(c) for c in cells]


_provider_of = _guarded(provider_name)


def providers(cells: Column) -> Column:
    if _all(_PROVIDERS.__contains__, cells):
        return cells
    return [_provider_of(c) for c in cells]


def _date(cell: Any) -> Any:
    if type(cell) is str and _DATE(cell):
        try:
            return date.fromisoformat(cell)
        except ValueError:
            pass
    return BAD


def dates(cells: Column) -> list[Any]:
    if _all(_DATE, cells):
        try:
            return list(map(date.fromisoformat, cells))
        except ValueError:  # e.g. 2026-13-09: find it cell by cell
            pass
    return [_date(c) for c in cells]


def optional_dates(cells: Column) -> list[Any]:
    return [None if c is None or (type(c) is str and not c.strip()) else _date(c) for c in cells]


def _datetime(cell: Any) -> Any:
    if type(cell) is str and _DATETIME(cell):
        try:
            value = datetime.fromisoformat(cell)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    return BAD


def datetimes(cells: Column) -> list[Any]:
    return [_datetime(c) for c in cells]


def optional_datetimes(cells: Column) -> list[Any]:
    return [
        None if c is None or (type(c) is str and not c.strip()) else _datetime(c) for c in cells
    ]


_flag_of = _guarded(yes_no)


def flags(cells: Column) -> list[Any]:
    return [_FLAGS[c] if type(c) is str and c in _FLAGS else _flag_of(c) for c in cells]


def choices(*allowed: str) -> Converter:
    """A Literal the model lower-cases first (`Pass` is `pass`)."""
    exact = frozenset(allowed)

    def convert(cells: Column) -> Column:
        if _all(exact.__contains__, cells):
            return cells
        return [
            (c if c in exact else (c.strip().lower() if c.strip().lower() in exact else BAD))
            if type(c) is str and c
            else BAD
            for c in cells
        ]

    return convert


_emails = _guarded(email_list)


def emails(cells: Column) -> list[Any]:
    return [[] if c is None else _emails(c) for c in cells]


_scope_of = _guarded(scope_list)


def _scope(cell: Any) -> Any:
    if cell is None or cell == "any":
        return "any"
    scope = _scope_of(cell)
    return scope if scope is BAD else ";".join(scope)


def scopes(cells: Column) -> list[Any]:
    return [_scope(c) for c in cells]


@dataclass(frozen=True)
class Layout:
    """One records file: its model, the converter of each field, the natural key."""

    kind: str
    model: type[Row]
    fields: tuple[str, ...]  # the model's fields, in order: the order of a row's values
    converters: tuple[Converter, ...]
    key: tuple[int, ...]  # positions of the natural key's fields

    def stored(self, row: Row) -> tuple[Any, ...]:
        """A row the model validated, as the fast path would give it."""
        values = row.__dict__
        if self.kind == "vouchers":
            values = {**values, "scope": ";".join(values["scope"])}
        return tuple(values[name] for name in self.fields)


def _layout(kind: str, converters: dict[str, Converter]) -> Layout:
    model = ROW_MODELS[kind]
    fields = tuple(model.model_fields)
    assert set(converters) == set(fields), kind  # a field without converter is a bug
    key = tuple(fields.index(name) for name in model.key_fields)
    return Layout(kind, model, fields, tuple(converters[f] for f in fields), key)


LAYOUTS: dict[str, Layout] = {
    layout.kind: layout
    for layout in (
        _layout(
            "candidates",
            {
                "mcp_id": mcp_ids,
                "name": text(200),
                "emails": emails,
                "country": text(80),
                "region": text(40),
                "slack_user_id": optional_text(32),
            },
        ),
        _layout("restrictions", {"exam": exams, "country": text(80), "since": dates}),
        _layout(
            "exam_attempts",
            {
                "mcp_id": mcp_ids,
                "exam": exams,
                "provider": providers,
                "taken_on": dates,
                "beta": flags,
                "result": choices("pass", "fail", "pending"),
            },
        ),
        _layout(
            "registrations",
            {
                "mcp_id": mcp_ids,
                "exam": exams,
                "provider": providers,
                "created_at": datetimes,
                "created_by": choices("candidate", "agent", "provider", "unknown"),
                "scheduled_for": optional_datetimes,
            },
        ),
        _layout(
            "invitations",
            {
                "mcp_id": mcp_ids,
                "campaign": text(80),
                "exam": exams,
                "sent_at": optional_datetimes,
                "promo_code": optional_text(64),
                "status": choices("sent", "bounced", "pending"),
            },
        ),
        _layout(
            "vouchers",
            {
                "mcp_id": mcp_ids,
                "code": text(64, low=4),
                "issued_at": dates,
                "for_exam": optional_exams,
                "scope": scopes,
                "redeemed_at": optional_dates,
            },
        ),
        _layout(
            "certifications",
            {"mcp_id": mcp_ids, "certification": text(120), "granted_on": dates},
        ),
    )
}


def validate(
    layout: Layout, cells: Sequence[Sequence[Any]], data: Callable[[int], dict[str, Any]]
) -> tuple[list[tuple[Any, ...] | None], dict[int, str]]:
    """Each row's values (None for a bad row) and the reason for each bad row, by position.

    `cells` holds one column per field of `layout` (a column of None for an absent optional
    column); `data(i)` is row i as the model should see it, for the rows the fast path leaves.
    """
    converted = [convert(column) for convert, column in zip(layout.converters, cells, strict=True)]
    rows: list[tuple[Any, ...] | None] = list(zip(*converted, strict=True))
    left: set[int] = set()
    for column in converted:
        if BAD in column:
            left.update(i for i, value in enumerate(column) if value is BAD)
    problems: dict[int, str] = {}
    for i in sorted(left):
        try:
            rows[i] = layout.stored(layout.model.model_validate(data(i)))
        except ValidationError as exc:
            rows[i] = None
            problems[i] = reason(exc)
        except OverflowError as exc:  # a timestamp at the very edge of the calendar
            rows[i] = None
            problems[i] = f"a date out of range ({exc})"
    return rows, problems


def reason(exc: ValidationError) -> str:
    """The first error of a row, as `field: message (got 'value')`."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "row"
    if error["type"] == "missing":
        return f"{where}: missing value"
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    return f"{where}: {message} (got {value!r})" if isinstance(value, str | int) else message
