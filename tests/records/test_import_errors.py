"""Every kind of bad row is named by file and line, whichever way the import takes: column by
column in this process, or in worker processes; the good rows around it go in whole."""

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.records.importer import import_records
from bot.store.models.records import Candidate, CandidateEmail, ExamAttempt

CANDIDATES = "mcp_id,name,emails,country,region,slack_user_id\n"
GOOD_CANDIDATE = "1234567,Priya Raman,priya@example.com,India,India,U0PRIYA\n"
HEADERS = {
    "candidates": CANDIDATES,
    "exam_attempts": "mcp_id,exam,provider,taken_on,beta,result\n",
    "registrations": "mcp_id,exam,provider,created_at,created_by,scheduled_for\n",
    "invitations": "mcp_id,campaign,exam,sent_at,promo_code,status\n",
    "vouchers": "mcp_id,code,issued_at,for_exam,scope,redeemed_at\n",
    "certifications": "mcp_id,certification,granted_on\n",
    "restrictions": "exam,country,since\n",
}
PATTERN = "String should match pattern '^[0-9]{4,10}$'"

# (file, bad row, the reason reported for it); each bad row follows one good row of its file.
BAD_ROWS = [
    ("candidates", "12,Too Short,a@example.com,India,India,", f"mcp_id: {PATTERN} (got '12')"),
    ("candidates", "12x4567,Letters,a@example.com,India,India,",
     f"mcp_id: {PATTERN} (got '12x4567')"),
    ("candidates", "7654321,,a@example.com,India,India,",
     "name: String should have at least 1 character (got '')"),
    ("candidates", "7654321,Tom,not-an-address,India,India,",
     "emails: not an email address: 'not-an-address' (got 'not-an-address')"),
    ("candidates", f"7654321,Tom,t@example.com,India,India,U{'0' * 40}",
     f"slack_user_id: String should have at most 32 characters (got 'U{'0' * 40}')"),
    ("candidates", "7654321,Tom,t@example.com,India,India,,surplus", "7 cells, the header has 6"),
    ("candidates", "7654321,Tom,t@example.com", "Input should be a valid string"),
    ("candidates", "1234567,Priya Again,p@example.com,India,India,",
     "duplicate key (mcp_id=1234567) earlier in this file"),
    ("exam_attempts", "1234567,71-623,kryterion,2026-03-09,true,pending",
     "provider: unknown provider 'kryterion' (use prometric or vue) (got 'kryterion')"),
    ("exam_attempts", "1234567,7-621,vue,2026-03-09,true,pass",
     "exam: not an exam code: '7-621' (use e.g. 71-621) (got '7-621')"),
    ("exam_attempts", "1234567,71-624,vue,2026-13-09,true,pending",
     "taken_on: Input should be a valid date or datetime, month value is outside expected range "
     "of 1-12 (got '2026-13-09')"),
    ("exam_attempts", "1234567,71-624,vue,20260309,true,pending",
     "taken_on: Datetimes provided to dates should have zero time - e.g. be exact dates "
     "(got '20260309')"),
    ("exam_attempts", "1234567,71-624,vue,,true,pending",
     "taken_on: Input should be a valid date or datetime, input is too short (got '')"),
    ("exam_attempts", "1234567,71-625,vue,2026-03-09,maybe,pass",
     "beta: not a yes/no value: 'maybe' (use true or false) (got 'maybe')"),
    ("exam_attempts", "1234567,71-626,vue,2026-03-09,true,Passed",
     "result: Input should be 'pass', 'fail' or 'pending' (got 'passed')"),
    ("exam_attempts", "1234567,71-621,prometric,2026-03-02,true,fail",
     "duplicate key (mcp_id=1234567, exam=71-621, provider=prometric, taken_on=2026-03-02) "
     "earlier in this file"),
    ("exam_attempts", "9999999,71-621,prometric,2026-03-02,true,pass", "unknown candidate 9999999"),
    ("registrations", "1234567,71-623,vue,2026-03-02 10:00:00,someone,",
     "created_by: Input should be 'candidate', 'agent', 'provider' or 'unknown' (got 'someone')"),
    ("registrations", "1234567,71-624,vue,not a time,agent,",
     "created_at: Input should be a valid datetime or date, invalid character in year "
     "(got 'not a time')"),
    ("registrations", "1234567,71-625,vue,2026-03-02,agent,2026-02-30T10:00:00Z",
     "scheduled_for: Input should be a valid datetime or date, day value is outside expected "
     "range (got '2026-02-30T10:00:00Z')"),
    ("invitations", "1234567,,71-622,,,sent",
     "campaign: String should have at least 1 character (got '')"),
    ("invitations", "1234567,wave-1,71-623,,PROMO-2,lost",
     "status: Input should be 'sent', 'bounced' or 'pending' (got 'lost')"),
    ("invitations", "1234567,wave-1,71-621,,PROMO-3,sent",
     "duplicate key (mcp_id=1234567, campaign=wave-1, exam=71-621) earlier in this file"),
    ("vouchers", "1234567,AB,2026-04-02,,,",
     "code: String should have at least 4 characters (got 'AB')"),
    ("vouchers", "1234567,ABCD-EFGH-7Q2K,2026-04-03,,any,",
     "duplicate key (code) earlier in this file"),
    ("vouchers", "1234567,WXYZ-0001,2026-04-03,,70-621;bogus,",
     "scope: not an exam code: 'bogus' (use e.g. 71-621) (got '70-621;bogus')"),
    ("vouchers", "1234567,WXYZ-0002,2026-04-03,x,,",
     "for_exam: not an exam code: 'x' (use e.g. 71-621) (got 'x')"),
    ("certifications", "1234567,,2026-06-01",
     "certification: String should have at least 1 character (got '')"),
    ("restrictions", "bogus,Vietnam,2026-02-01",
     "exam: not an exam code: 'bogus' (use e.g. 71-621) (got 'bogus')"),
]  # fmt: skip
GOOD_ROWS = {
    "candidates": GOOD_CANDIDATE,
    "exam_attempts": "1234567,71-621,prometric,2026-03-02,true,pass\n",
    "registrations": "1234567,71-621,vue,2026-03-02T10:00:00Z,candidate,\n",
    "invitations": "1234567,wave-1,71-621,2026-01-05T09:00:00Z,PROMO-1,sent\n",
    "vouchers": "1234567,ABCD-EFGH-7Q2K,2026-04-02,71-621,70-621;70-622,\n",
    "certifications": "1234567,MCTS (70-621),2026-06-01\n",
    "restrictions": "71-630,China,2026-02-01\n",
}


def write(folder: Path, kind: str, rows: str) -> Path:
    path = folder / f"{kind}.csv"
    path.write_text(HEADERS[kind] + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "row", "reason"), BAD_ROWS)
def test_a_bad_row_is_named_by_file_and_line_and_the_good_one_goes_in(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session, kind: str, row: str, reason: str
) -> None:
    if kind != "candidates":
        write(tmp_path, "candidates", GOOD_CANDIDATE)
    path = write(tmp_path, kind, GOOD_ROWS[kind] + row + "\n")
    report = import_records(sessions, [tmp_path])
    assert report.errors == [f"{path}:3: {reason}"]
    by_kind = {f.kind: f for f in report.files}
    assert (by_kind[kind].rows, by_kind[kind].inserted) == (2, 1)


def test_worker_processes_report_every_bad_row_alike(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    expected = []
    for kind, good in GOOD_ROWS.items():
        bad = [(row, reason) for k, row, reason in BAD_ROWS if k == kind]
        path = write(tmp_path, kind, good + "".join(row + "\n" for row, _ in bad))
        expected += [f"{path}:{line}: {reason}" for line, (_, reason) in enumerate(bad, start=3)]
    report = import_records(sessions, [tmp_path], workers=2)
    assert sorted(report.errors) == sorted(expected)
    assert [f.inserted for f in report.files] == [1] * len(GOOD_ROWS)


def test_a_row_with_padded_or_unusual_spelling_is_read_as_the_model_reads_it(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    write(
        tmp_path,
        "candidates",
        " 7654321 ,  Tom Baker  ,TOM@Example.com; tom@example.com,UK,EMEA,  \n",
    )
    write(tmp_path, "exam_attempts", "7654321,71 628,Pearson VUE,2026-03-09,Yes, FAIL \n")
    assert not import_records(sessions, [tmp_path]).errors
    person = db.execute(select(Candidate.mcp_id, Candidate.name, Candidate.slack_user_id)).one()
    assert tuple(person) == ("7654321", "Tom Baker", None)
    assert db.scalars(select(CandidateEmail.email)).all() == ["tom@example.com"]
    attempt = db.execute(select(ExamAttempt.exam, ExamAttempt.provider, ExamAttempt.beta,
                                ExamAttempt.result)).one()  # fmt: skip
    assert tuple(attempt) == ("71-628", "vue", True, "fail")


def test_lines_are_counted_across_blank_lines_and_cells_with_line_breaks(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    path = write(
        tmp_path,
        "candidates",
        GOOD_CANDIDATE
        + '7654321,"Tom\nBaker",tom@example.com,UK,EMEA,\n'
        + "\n"
        + '7654322,"A\r\nB\rC",ab@example.com,UK,EMEA,\n'
        + "12,Bad Id,x@example.com,UK,EMEA,\n",
    )
    report = import_records(sessions, [path], batch_size=2)
    assert report.errors == [f"{path}:9: mcp_id: {PATTERN} (got '12')"]
    assert report.files[0].inserted == 3


def test_json_lines_rows_of_every_shape_are_read_like_the_csv_ones(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    path = tmp_path / "candidates.jsonl"
    path.write_text(
        '{"mcp_id": "2345678", "name": "Json", "emails": ["J@Example.com"], "country": "India",'
        ' "region": "India"}\n'
        '{"mcp_id": 3456789, "name": "Int Id", "country": "India", "region": "India"}\n'
        '{"mcp_id": "4567890", "country": "India", "region": "India"}\n'
        "not json\n[1, 2]\n\n"
        '{"mcp_id": "5678901", "name": "Str", "emails": "a@example.com;B@example.com",'
        ' "country": "India", "region": "India", "slack_user_id": null}\n'
    )
    report = import_records(sessions, [path])
    assert report.errors == [
        f"{path}:2: mcp_id: Input should be a valid string (got 3456789)",
        f"{path}:3: name: missing value",
        f"{path}:4: not valid JSON: Expecting value",
        f"{path}:5: expected a JSON object",
    ]
    assert sorted(db.scalars(select(CandidateEmail.email))) == [
        "a@example.com", "b@example.com", "j@example.com",
    ]  # fmt: skip


def test_workers_import_exactly_what_one_process_does(
    tmp_path: Path, sessions: sessionmaker[Session], db: Session
) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    people = "".join(f"{2000000 + i},Person {i},p{i}@example.com,India,India,\n" for i in range(40))
    write(folder, "candidates", people + "12,Bad,b@example.com,India,India,\n")
    attempts = "".join(
        f"{2000000 + i},71-62{i % 10},vue,2026-03-{1 + i % 28:02d},true,pass\n" for i in range(40)
    )
    write(folder, "exam_attempts", attempts + "9999999,71-621,vue,2026-03-02,true,pass\n")
    write(folder, "vouchers", "2000001,ABCD-0001,2026-04-02,,any,\n2000002,AB,2026-04-02,,,\n")
    write(folder, "restrictions", GOOD_ROWS["restrictions"])

    def contents() -> list[list[str]]:
        tables = ("candidates", "candidate_emails", "exam_attempts", "vouchers",
                  "region_restrictions")  # fmt: skip
        return [
            sorted(
                str(tuple(r)[1:] if t != "candidates" else tuple(r))
                for r in db.execute(text(f"SELECT * FROM {t}"))
            )
            for t in tables
        ]

    here = import_records(sessions, [folder], workers=1, batch_size=7)
    stored = contents()
    for table in ("candidate_emails", "exam_attempts", "vouchers", "region_restrictions"):
        db.execute(text(f"DELETE FROM {table}"))
    db.execute(text("DELETE FROM candidates"))
    db.commit()
    seen: dict[str, int] = {}

    def progress(label: str, _total: int):  # type: ignore[no-untyped-def]
        seen[label] = 0

        def advance(_size: int, rows: int) -> None:
            seen[label] += rows

        return advance

    workers = import_records(sessions, [folder], workers=2, batch_size=7, progress=progress)
    assert workers.to_dict() == here.to_dict()
    assert len(here.errors) == 3
    assert contents() == stored
    assert seen == {"candidates.csv": 41, "exam_attempts.csv": 41, "vouchers.csv": 2,
                    "restrictions.csv": 1}  # fmt: skip
    again = import_records(sessions, [folder], workers=2)
    assert [f.unchanged for f in again.files] == [f.inserted for f in here.files]
    assert db.scalar(select(func.count()).select_from(Candidate)) == 40
