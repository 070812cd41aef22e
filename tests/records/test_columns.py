"""The import's column converters agree with the row models: whatever cell a converter accepts,
the model accepts too and gives the same value; anything else is left to the model."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.records.columns import BAD, LAYOUTS, Layout

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# A valid row of each file, to vary one field of at a time.
VALID: dict[str, dict[str, Any]] = {
    "candidates": {"mcp_id": "1234567", "name": "Priya Raman", "emails": "priya@example.com",
                   "country": "India", "region": "India", "slack_user_id": "U0PRIYA"},
    "restrictions": {"exam": "71-630", "country": "China", "since": "2026-02-01"},
    "exam_attempts": {"mcp_id": "1234567", "exam": "71-621", "provider": "vue",
                      "taken_on": "2026-03-02", "beta": "true", "result": "pass"},
    "registrations": {"mcp_id": "1234567", "exam": "71-621", "provider": "vue",
                      "created_at": "2026-03-02T10:00:00Z", "created_by": "candidate",
                      "scheduled_for": ""},
    "invitations": {"mcp_id": "1234567", "campaign": "wave-1", "exam": "71-621",
                    "sent_at": "2026-01-05T09:00:00Z", "promo_code": "PROMO-1", "status": "sent"},
    "vouchers": {"mcp_id": "1234567", "code": "ABCD-EFGH-7Q2K", "issued_at": "2026-04-02",
                 "for_exam": "71-621", "scope": "any", "redeemed_at": ""},
    "certifications": {"mcp_id": "1234567", "certification": "MCTS (70-621)",
                       "granted_on": "2026-06-01"},
}  # fmt: skip

# Cells near the edges of what each kind of column takes, spelled in many ways.
PIECES = [
    "", " ", "  ", "\t", "\xa0", "\u2003", "\x1f", "\n", "0", "1", "12", "1234", "1234567",
    "12345678901", "٣", "71-621", "071-621", "71 621", "71621", "7-621", "71-6210", "70-621",
    "any", "ANY", "Any", "vue", "VUE", "Vue", "prometric", "Pearson VUE", "pearson", "kryterion",
    "true", "TRUE", "True", "yes", "y", "no", "N", "false", "maybe", "pass", "Pass", "PENDING",
    "fail", "sent", "Bounced", "lost", "candidate", "Agent", "unknown", "2026-03-02",
    "2026-02-29", "2024-02-29", "2026-13-01", "0000-01-01", "0001-01-01", "9999-12-31",
    "20260302", "2026-W10-1", "T10:00:00", "T23:59:59", "T24:00:00", " 10:00:00", "T10:00",
    "T10:00:00.5", "Z", "z", "+05:30", "-00:00", "+23:59", "+24:00", "+0530", "1700000000",
    "a@example.com", "A@Example.COM", "@x", "x@", "a@b;c@d", ";", "a;b", "x" * 33, "x" * 81,
    "x" * 201, "é", "PROMO-1",
]  # fmt: skip
cells = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join),
    st.text(max_size=12),
    st.none(),
)


def model_value(layout: Layout, name: str, cell: Any) -> Any:
    """What the row model makes of `cell` in field `name` (BAD: it refuses the row)."""
    data = {**VALID[layout.kind], name: cell}
    try:
        row = layout.model.model_validate(data)
    except ValidationError:
        return BAD
    return layout.stored(row)[layout.fields.index(name)]


@pytest.mark.parametrize(
    ("kind", "name"), [(kind, name) for kind, layout in LAYOUTS.items() for name in layout.fields]
)
@SETTINGS
@given(cell=cells)
def test_a_cell_the_fast_path_takes_is_one_the_model_takes_alike(
    kind: str, name: str, cell: Any
) -> None:
    layout = LAYOUTS[kind]
    convert = layout.converters[layout.fields.index(name)]
    fast = convert([cell])[0]
    if fast is not BAD:
        expected = model_value(layout, name, cell)
        assert expected is not BAD, f"{kind}.{name}: the fast path took {cell!r}, the model not"
        assert (fast, type(fast)) == (expected, type(expected)), f"{kind}.{name}: {cell!r}"


@pytest.mark.parametrize("kind", LAYOUTS)
def test_plain_cells_never_need_the_model(kind: str) -> None:
    """The spelling the files normally use goes through the fast path alone."""
    layout = LAYOUTS[kind]
    for name, convert in zip(layout.fields, layout.converters, strict=True):
        cell = VALID[kind][name]
        assert convert([cell, cell])[0] is not BAD, f"{kind}.{name}: {cell!r}"


def test_a_column_of_plain_cells_is_taken_whole() -> None:
    layout = LAYOUTS["exam_attempts"]
    columns = [
        ["1234567", "7654321"], ["71-621", "071-622"], ["vue", "Pearson VUE"],
        ["2026-03-02", "2026-03-09"], ["true", "Yes"], ["pass", " FAIL "],
    ]  # fmt: skip
    converted = [convert(c) for convert, c in zip(layout.converters, columns, strict=True)]
    assert [column[1] for column in converted][1:] == [
        "71-622",
        "vue",
        converted[3][1],
        True,
        "fail",
    ]
