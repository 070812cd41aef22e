"""Importing records files: bad rows named by file and line, good rows in, re-import idempotent."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import UserError
from bot.records.importer import import_records, records_files
from bot.records.source import DatabaseRecords
from bot.store.models.records import Candidate, CandidateEmail, ExamAttempt, Voucher

CANDIDATES = """mcp_id,name,emails,country,region,slack_user_id
1234567,Priya Raman,priya@example.com; P.Raman@Work.Example,India,India,U0PRIYA
7654321,Tom Baker,tom@example.com,United Kingdom,EMEA,
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def count(db: Session, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    write(tmp_path, "candidates.csv", CANDIDATES)
    write(tmp_path, "exam_attempts.csv", """mcp_id,exam,provider,taken_on,beta,result
1234567,71-621,prometric,2026-03-02,true,pass
1234567,071-622,Pearson VUE,2026-03-09,yes,pending
1234567,71-623,kryterion,2026-03-09,true,pending
1234567,71-624,vue,2026-13-09,true,pending
1234567,71-621,prometric,2026-03-02,true,fail
9999999,71-621,prometric,2026-03-02,true,pass
""")  # fmt: skip
    write(tmp_path, "registrations.csv", "mcp_id,exam,created_at\n1234567,71-621,2026-01-01\n")

    report = import_records(sessions, [tmp_path])

    attempts = str(tmp_path / "exam_attempts.csv")
    assert report.errors[0] == (
        f"{attempts}:4: provider: unknown provider 'kryterion' (use prometric or vue) "
        "(got 'kryterion')"
    )
    assert report.errors[1].startswith(f"{attempts}:5: taken_on: ")
    assert report.errors[2] == (
        f"{attempts}:6: duplicate key (mcp_id=1234567, exam=71-621, provider=prometric, "
        "taken_on=2026-03-02) earlier in this file"
    )
    assert report.errors[3] == f"{attempts}:7: unknown candidate 9999999"
    assert report.errors[4] == (
        f"{tmp_path / 'registrations.csv'}:1: missing column(s): provider, created_by; file skipped"
    )
    assert len(report.errors) == 5
    assert count(db, Candidate) == 2 and count(db, ExamAttempt) == 2
    exams = db.scalars(select(ExamAttempt.exam).order_by(ExamAttempt.exam)).all()
    assert exams == ["71-621", "71-622"]  # 071-622 stored in canonical form


def test_reimporting_the_same_files_changes_nothing(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    write(tmp_path, "candidates.csv", CANDIDATES)
    header = "mcp_id,code,issued_at,for_exam,scope,redeemed_at\n"
    write(
        tmp_path,
        "vouchers.csv",
        header + "1234567,ABCD-EFGH-7Q2K,2026-04-02,71-621,70-621;70-622,\n",
    )
    first = import_records(sessions, [tmp_path])
    assert [(f.inserted, f.updated, f.unchanged) for f in first.files] == [(2, 0, 0), (1, 0, 0)]
    again = import_records(sessions, [tmp_path])
    assert [(f.inserted, f.updated, f.unchanged) for f in again.files] == [(0, 0, 2), (0, 0, 1)]
    assert count(db, CandidateEmail) == 3 and count(db, Voucher) == 1


def test_a_changed_row_is_updated_in_place(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    write(tmp_path, "candidates.csv", CANDIDATES)
    import_records(sessions, [tmp_path])
    write(tmp_path, "candidates.csv", CANDIDATES.replace("Tom Baker", "Thomas Baker").replace(
        "priya@example.com; ", ""))  # fmt: skip
    report = import_records(sessions, [tmp_path])
    assert (report.files[0].updated, report.files[0].unchanged) == (2, 0)
    records = DatabaseRecords(db).get("7654321")
    assert records is not None and records.candidate.name == "Thomas Baker"
    assert DatabaseRecords(db).get("priya@example.com") is None
    assert DatabaseRecords(db).get("p.raman@work.example") is not None


def test_jsonl_files_import_like_csv(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    lines = [
        {"mcp_id": "1234567", "name": "Priya Raman", "emails": ["priya@example.com"],
         "country": "India", "region": "India"},
        {"mcp_id": "12", "name": "Too Short", "country": "India", "region": "India"},
    ]  # fmt: skip
    write(tmp_path, "candidates.jsonl", "\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    report = import_records(sessions, [tmp_path / "candidates.jsonl"])
    assert report.files[0].inserted == 1
    assert [e.split(": ", 1)[0].rsplit(":", 1)[1] for e in report.errors] == ["2", "3"]


def test_large_files_are_written_in_batches(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    rows = "".join(f"{1000000 + i},Person {i},p{i}@example.com,India,India,\n" for i in range(25))
    write(tmp_path, "candidates.csv", "mcp_id,name,emails,country,region,slack_user_id\n" + rows)
    report = import_records(sessions, [tmp_path], batch_size=10)
    assert report.files[0].inserted == 25 and not report.errors
    assert count(db, Candidate) == 25


def test_files_are_recognised_by_name_and_candidates_come_first(tmp_path: Path) -> None:
    for name in ("vouchers.csv", "candidates.csv", "notes.txt", "exam_attempts.jsonl"):
        write(tmp_path, name, "")
    kinds = [kind for kind, _ in records_files([tmp_path])]
    assert kinds == ["candidates", "exam_attempts", "vouchers"]
    with pytest.raises(UserError, match="not a records file"):
        records_files([tmp_path / "notes.txt"])
    with pytest.raises(UserError, match="no such file"):
        records_files([tmp_path / "missing.csv"])


def test_blank_optional_cells_mean_no_value(tmp_path: Path, sessions, db) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path, "candidates.csv", CANDIDATES)
    write(tmp_path, "vouchers.csv", "mcp_id,code,issued_at,for_exam,scope,redeemed_at\n"
                                    "1234567,ABCD-EFGH-7Q2K,2026-04-02,,,\n")  # fmt: skip
    assert not import_records(sessions, [tmp_path]).errors
    records = DatabaseRecords(db).get("1234567")
    assert records is not None
    assert (records.vouchers[0].for_exam, records.vouchers[0].scope) == (None, ["any"])
    assert records.vouchers[0].redeemed_at is None


def test_a_row_the_database_refuses_loses_only_itself(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session, database_url: str
) -> None:
    # PostgreSQL refuses a NUL character in text; SQLite stores it
    rows = "".join(f"{1000000 + i},Person {i},p{i}@example.com,India,India,\n" for i in range(5))
    rows += "1000009,Bad\x00Name,bad@example.com,India,India,\n"
    write(tmp_path, "candidates.csv", "mcp_id,name,emails,country,region,slack_user_id\n" + rows)
    report = import_records(sessions, [tmp_path])
    if database_url.startswith("postgresql"):
        assert len(report.errors) == 1 and ":7: the database refused the row" in report.errors[0]
        assert count(db, Candidate) == 5 and count(db, CandidateEmail) == 5
    else:
        assert not report.errors and count(db, Candidate) == 6


def test_progress_is_reported_per_file_up_to_its_size(tmp_path: Path, sessions) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, "candidates.csv", CANDIDATES)
    seen: dict[str, list[int]] = {}

    def progress(label: str, total: int):  # type: ignore[no-untyped-def]
        seen[label] = [total]
        return seen[label].append

    import_records(sessions, [path], progress=progress)
    total, *advances = seen["candidates.csv"]
    assert total == path.stat().st_size and sum(advances) == len(CANDIDATES)


def test_a_bad_byte_far_into_a_large_file_is_named_by_its_line(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    """The encoding is checked in chunks; the line counts across them."""
    rows = "".join(
        f"{1000000 + i},Person {i},p{i}@example.com,India,India,\n" for i in range(40_000)
    )
    path = tmp_path / "candidates.csv"
    path.write_bytes(
        ("mcp_id,name,emails,country,region,slack_user_id\n" + rows).encode()
        + "1999999,José,j@example.com,Spain,EMEA,\n".encode("latin-1")
    )
    assert path.stat().st_size > 1 << 20
    with pytest.raises(
        UserError, match=rf"^{path}:40002: not UTF-8 \(byte 0xe9\); save it as UTF-8"
    ):
        import_records(sessions, [tmp_path])
    assert count(db, Candidate) == 0


def test_a_utf16_file_reports_progress_in_bytes(tmp_path: Path, sessions) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "candidates.csv"
    path.write_bytes(CANDIDATES.encode("utf-16"))  # with its byte-order mark
    seen: list[int] = []
    report = import_records(sessions, [path], progress=lambda _label, _total: seen.append)
    assert report.files[0].inserted == 2 and not report.errors
    assert sum(seen) == path.stat().st_size - 2  # the BOM is not a character


def test_a_jsonl_line_nested_too_deeply_is_a_bad_row(tmp_path: Path, sessions) -> None:  # type: ignore[no-untyped-def]
    good = json.dumps({"mcp_id": "1234567", "name": "Priya Raman", "country": "India",
                       "region": "India", "emails": ["priya@example.com"]})  # fmt: skip
    write(tmp_path, "candidates.jsonl", "[" * 100_000 + "]" * 100_000 + "\n" + good + "\n")
    report = import_records(sessions, [tmp_path])
    assert report.errors == [
        f"{tmp_path / 'candidates.jsonl'}:1: not a records row: JSON nested too deeply"
    ]
    assert report.files[0].inserted == 1
