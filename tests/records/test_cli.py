"""`triage records import|show` through the real CLI entry point."""

import json
from pathlib import Path

import pytest

from bot.cli import main

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


def test_a_large_import_shows_its_progress_in_rows_per_second(  # type: ignore[no-untyped-def]
    triage, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # stderr is a terminal, as at a desk
    rows = "".join(
        f"{2000000 + i},Person {i},p{i}@example.com,India,India,\n" for i in range(40000)
    )
    path = tmp_path / "candidates.csv"
    path.write_text("mcp_id,name,emails,country,region,slack_user_id\n" + rows)
    assert path.stat().st_size > 2_000_000
    assert triage("records", "import", str(path), "--workers", "1") == 0
    out = capsys.readouterr()
    assert "importing candidates.csv" in out.err and "rows/s" in out.err
    assert "40,000 rows" in out.err
    assert "40000" in out.out  # the report's table
