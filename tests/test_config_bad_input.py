"""Every broken app.yaml is one line on stderr, exit 2, naming the file, the line where known, the
key and the problem, through the real `triage` entry point; never a traceback, and never a
silently accepted mistake (a duplicated key, a typo in a routing rule's issue, a self-backup,
an escalation chain that reaches nobody)."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (ROOT / "app.yaml").read_text(encoding="utf-8")
TRIAGE = Path(sys.executable).parent / "triage"

Maker = Callable[[Path], Path]


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `triage --config PATH config check`; the exit code, stderr, and everything printed."""
    monkeypatch.setenv("TRIAGE_KNOWLEDGE", str(ROOT / "knowledge"))

    def run(path: Path) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exit_info:
            main(["--config", str(path), "config", "check"])
        captured = capsys.readouterr()
        return int(exit_info.value.code or 0), captured.err, captured.out + captured.err

    return run


def edited(old: str, new: str, *, encoding: str = "utf-8") -> Maker:
    """The shipped app.yaml with its first `old` replaced by `new`, as text."""
    assert old in SHIPPED

    def make(folder: Path) -> Path:
        path = folder / "app.yaml"
        path.write_bytes(SHIPPED.replace(old, new, 1).encode(encoding))
        return path

    return make


def changed(mutate: Callable[[dict], None]) -> Maker:  # type: ignore[type-arg]
    """The shipped app.yaml, loaded, changed by `mutate`, and written back."""

    def make(folder: Path) -> Path:
        data = yaml.safe_load(SHIPPED)
        mutate(data)
        path = folder / "app.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return make


def raw(content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / "app.yaml"
        path.write_bytes(content)
        return path

    return make


def line_of(text: str) -> int:
    """The line of the shipped app.yaml that `text` starts on."""
    return SHIPPED[: SHIPPED.index(text)].count("\n") + 1


DEV_BACKUP = "    calendar: north-america\n    backup: lena\n"  # dev's entry, the first of these

CASES: list[tuple[str, Maker, str]] = [
    (
        "impossible-date",
        edited("[2026-12-25, 2026-12-28", "[2026-02-30, 2026-12-28"),
        f":{line_of('    holidays: [2026-12-25')}: calendars.emea.holidays[0]: "
        "Input should be a valid date",
    ),
    (
        "bad-utf8",
        edited("name: Beta Exams Help Desk", "name: Bêta Exams Help Desk", encoding="latin-1"),
        f":{line_of('  name: Beta Exams')}: not UTF-8 text (byte 0xea); save it as UTF-8",
    ),
    (
        "binary",
        raw(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"),
        ":3: binary content, not a YAML text file",
    ),
    (
        "control-character",
        edited("name: Beta Exams", "name: Beta\x07Exams"),
        f":{line_of('  name: Beta Exams')}: control character #x07 is not allowed",
    ),
    (
        "deep-nesting",
        raw(b"desk: " + b"[" * 10_000 + b"]" * 10_000 + b"\n"),
        ":1: not valid YAML: nested deeper than 50 levels",
    ),
    (
        "duplicate-key",
        edited(DEV_BACKUP, DEV_BACKUP + "    backup: kenji\n"),
        f":{line_of(DEV_BACKUP) + 2}: owners[1].backup: duplicate key "
        f"(first given at line {line_of(DEV_BACKUP) + 1}",
    ),
    (
        "duplicate-top-level-key",
        edited("triage_lead: maria\n", "triage_lead: maria\ntriage_lead: dev\n"),
        f":{line_of('triage_lead: maria') + 1}: triage_lead: duplicate key",
    ),
    (
        "unknown-issue-id",
        edited("issues: [voucher-missing, voucher-scope] }", "issues: [voucher-mising] }"),
        f":{line_of('  - name: vouchers') + 1}: routing[3].match.issues[0]: "
        "unknown issue id 'voucher-mising'; did you mean 'voucher-missing'?",
    ),
    (
        "own-backup",
        edited(DEV_BACKUP, DEV_BACKUP.replace("lena", "dev")),
        f":{line_of(DEV_BACKUP) + 1}: owners[1].backup: 'dev' is their own backup",
    ),
    (
        "chain-unknown-step",
        edited("chain: [owner, backup,", "chain: [owner, backups,"),
        f":{line_of('  chain: [owner')}: escalation.chain[1]: unknown step 'backups' "
        "(use owner, backup, team_lead, triage_lead or an owner id)",
    ),
    (
        "chain-step-names-nobody",
        changed(lambda d: [o.pop("backup", None) for o in d["owners"]]),
        ": escalation.chain[1]: 'backup' names nobody: no owner has a backup",
    ),
    (
        "chain-team-lead-without-teams",
        changed(
            lambda d: (d.pop("teams"), [r.update(team=None, owner="maria") for r in d["routing"]])
        ),
        ": escalation.chain[2]: 'team_lead' names nobody: no teams are defined",
    ),
    (
        "negative-summary-threshold",
        edited("summary_threshold: 3", "summary_threshold: -1"),
        f":{line_of('  summary_threshold: 3')}: escalation.summary_threshold: "
        "Input should be greater than or equal to 0",
    ),
    (
        "chain-step-never-reached",
        edited(
            "chain: [owner, backup, team_lead, triage_lead]", "chain: [owner, triage_lead, maria]"
        ),
        ": escalation.chain[2]: 'maria' repeats escalation.chain[1]: never reached",
    ),
    (
        "chain-empty",
        edited("chain: [owner, backup, team_lead, triage_lead]", "chain: []"),
        ": escalation.chain: empty: an overdue ticket would reach nobody",
    ),
]


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_config_is_one_line_naming_file_line_key_and_problem(
    check, tmp_path: Path, make: Maker, expected: str
) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    code, err, everything = check(path)
    assert code == 2, everything
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {path}"), err
    assert expected in err, err
    assert "Traceback" not in everything


def test_a_folder_given_as_the_config_is_one_line(check, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, err, everything = check(tmp_path)
    assert code == 2
    assert err.strip() == f"error: {tmp_path}: is a folder, not a file (give the path of app.yaml)"
    assert "Traceback" not in everything


def test_shipped_config_passes_every_check(check) -> None:  # type: ignore[no-untyped-def]
    code, _, everything = check(ROOT / "app.yaml")
    assert code == 0, everything
    assert "13 known issues" in everything


def test_routing_is_checked_against_the_knowledge_folder_in_use(
    check, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Issue ids are the knowledge folder's file names: a desk with fewer issues than the
    routing names is refused by every command, not only `config check`."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    for name in ("voucher-missing.yaml", "exams.yaml"):
        (knowledge / name).write_bytes((ROOT / "knowledge" / name).read_bytes())
    monkeypatch.setenv("TRIAGE_KNOWLEDGE", str(knowledge))
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(ROOT / "app.yaml"), "tickets", "list"])
    assert exit_info.value.code == 2


def test_the_installed_command_answers_deep_nesting_in_one_line(tmp_path: Path) -> None:
    """The console script, as an operator runs it: no RecursionError traceback."""
    path = raw(b"owners: " + b"{a: " * 10_000 + b"}" * 10_000 + b"\n")(tmp_path)
    done = subprocess.run(
        [str(TRIAGE), "--config", str(path), "config", "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {path}:1: not valid YAML: nested deeper than 50 levels"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_anchors_and_an_overridden_merge_key_are_no_duplicates(check, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A desk may share a calendar's settings with `<<: *base` and override one of them."""
    text = SHIPPED.replace(
        "  emea:\n    timezone: Europe/London\n",
        "  emea: &office\n    timezone: Europe/London\n",
        1,
    ).replace(
        "  apac:\n    timezone: Asia/Tokyo\n",
        "  apac:\n    <<: *office\n    timezone: Asia/Tokyo\n",
        1,
    )
    assert "<<: *office" in text
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, everything = check(path)
    assert code == 0, everything


def test_a_dot_env_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes("SLACK_BOT_TOKEN=xoxb-café\n".encode("latin-1"))
    env = {
        "PATH": "/usr/bin:/bin",
        "TRIAGE_CONFIG": str(ROOT / "app.yaml"),
        "TRIAGE_KNOWLEDGE": str(ROOT / "knowledge"),
    }
    done = subprocess.run(
        [str(TRIAGE), "config", "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: .env: not UTF-8 text; save it as UTF-8"
    assert "xoxb" not in done.stdout + done.stderr
