"""`triage records import|show` through the real CLI entry point."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main
from bot.store.models.records import Candidate, RegionRestriction

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def triage(database_url: str, engine, sessions, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRIAGE_KNOWLEDGE", str(ROOT / "knowledge"))

    def run(*args: str) -> int:
        try:
            main(["--config", str(ROOT / "app.yaml"), *args])
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    return run


def test_import_reports_bad_lines_and_exits_1(triage, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "candidates.csv").write_text(
        "mcp_id,name,emails,country,region,slack_user_id\n"
        "1234567,Priya Raman,priya@example.com,India,India,\n"
        "1234567,Priya Again,priya@example.com,India,India,\n"
    )
    assert triage("records", "import", str(tmp_path)) == 1
    out = capsys.readouterr()
    assert f"{tmp_path / 'candidates.csv'}:3: duplicate key (mcp_id=1234567)" in out.err
    assert triage("records", "import", str(tmp_path / "candidates.csv"), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["files"][0] | {"file": None} == {
        "file": None, "kind": "candidates", "rows": 2, "inserted": 0, "updated": 0,
        "unchanged": 1, "bad": 1,
    }  # fmt: skip
    assert report["catalogue_exams"] > 0


def test_show_gives_the_records_masked_and_every_check(triage, capsys) -> None:  # type: ignore[no-untyped-def]
    assert triage("records", "import", str(ROOT / "samples" / "records"), "--json") == 0
    capsys.readouterr()
    assert (
        triage("records", "show", "priya.r@work.example.com", "--json", "--today", "2026-11-25")
        == 0
    )
    out = capsys.readouterr().out
    shown = json.loads(out)
    assert shown["candidate"]["mcp_id"] == "4012345"
    vouchers = shown["checks"]["vouchers"]
    assert (vouchers["entitled"], vouchers["issued"], vouchers["owed"]) == (2, 1, 1)
    assert set(shown["checks"]) == {
        "registrations", "invitations", "restriction", "availability",
        "vouchers", "voucher_scope", "results", "certifications",
    }  # fmt: skip
    assert shown["records"]["vouchers"][0]["code"] == "****-7Q2K"
    assert "IN26-9F3D-7Q2K" not in out and "BETA621-PR7Q-44KM" not in out
    assert triage("records", "show", "4012345") == 0
    text = capsys.readouterr().out
    assert "Priya Raman" in text and "1 owed" in text and "IN26-9F3D" not in text


def test_an_unknown_candidate_is_one_line_and_exit_2(triage, capsys) -> None:  # type: ignore[no-untyped-def]
    assert triage("records", "show", "5555555") == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: no candidate with MCP id or email '5555555'"
    assert triage("records", "import", "/nonexistent/folder") == 2


HEADER = "mcp_id,name,emails,country,region,slack_user_id\n"
ROWS = (
    "4000001,Désirée Ünal,desiree@example.com,Germany,EMEA,\n"
    "4000002,Ravi Kumar,ravi@example.com,India,India,\n"
)


def names(db: Session) -> list[str]:
    db.expire_all()
    return sorted(db.scalars(select(Candidate.name)))


@pytest.mark.parametrize(
    "content",
    [
        (HEADER + ROWS).encode("utf-8"),
        (HEADER + ROWS).encode("utf-8-sig"),
        (HEADER + ROWS).encode("utf-16"),  # UTF-16 with its BOM, comma-separated
        (HEADER + ROWS).replace(",", "\t").replace("\n", "\r\n").encode("utf-16"),  # Excel's
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "excel-unicode-text"],
)
def test_utf8_and_utf16_with_a_bom_are_imported(
    triage, db: Session, tmp_path: Path, content: bytes
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "candidates.csv").write_bytes(content)
    assert triage("records", "import", str(tmp_path)) == 0
    assert names(db) == ["Désirée Ünal", "Ravi Kumar"]


@pytest.mark.parametrize(
    ("encoding", "name", "byte"),
    [("latin-1", "Désirée Ünal", "e9"), ("cp1252", "Ravi “RK” Kumar", "93")],
)
def test_any_other_encoding_is_one_line_saying_to_save_as_utf8_and_imports_nothing(
    triage, db: Session, tmp_path: Path, capsys, encoding: str, name: str, byte: str
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "restrictions.csv").write_text("exam,country,since\n71-621,Cuba,2026-01-01\n")
    bad = tmp_path / "candidates.csv"
    rows = [
        "4000003,Tom Baker,tom@example.com,United Kingdom,EMEA,",
        f"4000004,{name},n@example.com,Germany,EMEA,",
    ]
    bad.write_bytes((HEADER + "\n".join(rows)).encode(encoding))
    assert triage("records", "import", str(tmp_path)) == 2
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == [
        f"error: {bad}:3: not UTF-8 (byte 0x{byte}); "
        'save it as UTF-8 (in Excel: Save As, "CSV UTF-8")'
    ]
    assert "Traceback" not in out.out + out.err
    # Checked before the first row is written: the good file in the folder waits too.
    assert names(db) == [] and db.scalar(select(func.count(RegionRestriction.exam))) == 0


def test_a_cell_over_the_csv_limit_is_a_bad_row_and_the_import_goes_on(
    triage, db: Session, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    huge = "x" * 200_000
    path = tmp_path / "candidates.csv"
    path.write_text(
        HEADER
        + f"4000003,{huge},a@example.com,India,India,\n"
        + ROWS
        + f'4000004,"{huge}",b@example.com,India,India,\n'
        + "[/x],Mark Up,m@example.com,India,India,\n",  # a bad row that looks like markup
        encoding="utf-8",
    )
    assert triage("records", "import", str(tmp_path)) == 1
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == [
        f"{path}:2: a cell is longer than 131,072 characters",
        f"{path}:5: a cell is longer than 131,072 characters",
        f"{path}:6: mcp_id: String should match pattern '^[0-9]{{4,10}}$' (got '[/x]')",
    ]
    assert "Traceback" not in out.out + out.err
    assert names(db) == ["Désirée Ünal", "Ravi Kumar"]
