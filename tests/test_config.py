"""A bad app.yaml stops every command with one line naming the file, the key and the problem."""

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app, main
from bot.config.app import load_app_config
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((ROOT / "app.yaml").read_text())
    mutate(data)
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


def test_shipped_config_is_valid() -> None:
    config = load_app_config(ROOT / "app.yaml")
    assert config.find_owner(config.triage_lead) is not None
    assert {"vouchers", "registrations"} <= set(config.teams)


@pytest.mark.parametrize(
    ("mutate", "key", "problem"),
    [
        (lambda d: d["routing"][3].update(owner="bob"), "routing[3].owner", "unknown owner 'bob'"),
        (lambda d: d["routing"][6].update(team="nobody"), "routing[6].team", "unknown team"),
        (
            lambda d: d["owners"][0].update(timezone="Mars/Olympus"),
            "owners[0].timezone",
            "unknown time zone 'Mars/Olympus'",
        ),
        (lambda d: d.update(colour="blue"), "colour", "unknown key"),
        (lambda d: d["owners"][1].pop("email"), "owners[1].email", "required key is missing"),
        (
            lambda d: d["sla"]["high"].update(resolution="soon"),
            "sla.high.resolution",
            "not a duration",
        ),
        (  # beyond what a timedelta holds: a clear line, not an OverflowError
            lambda d: d["surges"].update(history="9999999999d"),
            "surges.history",
            "too long a duration",
        ),
        (lambda d: d.update(triage_lead="zed"), "triage_lead", "unknown owner 'zed'"),
        (lambda d: d["digests"][0].update(owner="zed"), "digests[0].owner", "unknown owner"),
    ],
)
def test_invalid_config_names_file_key_and_problem(tmp_path: Path, mutate, key, problem) -> None:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, mutate)
    with pytest.raises(ConfigError) as error:
        load_app_config(path)
    assert error.value.key == key
    assert problem in error.value.problem
    assert str(path) in str(error.value)


def test_config_check_rejects_unknown_owner_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, lambda d: d["routing"][0].update(owner="bob"))
    code, output = run_cli(["--config", str(path), "config", "check"], capsys)
    assert code == 2
    assert output.strip().count("\n") == 0, output
    where = re.escape(str(path))
    assert re.search(rf"{where}:\d+: routing\[0\]\.owner: unknown owner 'bob'", output)
    assert "Traceback" not in output


def test_malformed_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "app.yaml"
    path.write_text("owners: [\n  - id: x\n bad indent")
    code, output = run_cli(["--config", str(path), "config", "check"], capsys)
    assert code == 2
    assert str(path) in output and "not valid YAML" in output


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run_cli(["--config", str(tmp_path / "nope.yaml"), "db", "upgrade"], capsys)
    assert code == 2
    assert "file not found" in output


def test_config_check_summarises_the_desk(tmp_path: Path) -> None:
    from bot.cli import _register_commands

    _register_commands()
    result = CliRunner().invoke(
        app, ["--config", str(ROOT / "app.yaml"), "config", "check", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"triage_lead": "maria"' in result.output
    assert "possible-fraud-to-lead" in result.output
