"""`triage classify` and `triage eval` through the real command line."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli import classify as classify_module
from tests.conftest import DATA_DIR, KNOWLEDGE_DIR, ROOT

ACCEPTANCE = "my voucher never arrived, I took 071-621 and 71-622 at Prometric"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(c.name == "classify" for c in app.registered_commands):
        classify_module.register(app)
    return CliRunner()


def _run(runner: CliRunner, *args: str, stdin: str | bytes | None = None):
    return runner.invoke(app, [*args, "--knowledge", str(KNOWLEDGE_DIR)], input=stdin)


def test_acceptance_example_through_the_installed_command():
    env = {**os.environ, "TRIAGE_KNOWLEDGE": str(KNOWLEDGE_DIR)}
    triage = os.path.join(os.path.dirname(sys.executable), "triage")
    out = subprocess.run(
        [triage, "classify", "--json"], input=ACCEPTANCE, capture_output=True, text=True,
        env=env, cwd=ROOT, check=True, timeout=60,
    )  # fmt: skip
    payload = json.loads(out.stdout)
    assert payload["issue"] == "voucher-missing"
    assert payload["entities"]["exams"] == ["71-621", "71-622"]
    assert payload["entities"]["providers"] == ["prometric"]


def test_json_contract_from_an_argument(runner):
    result = _run(runner, "classify", "--json", ACCEPTANCE)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"issue", "confidence", "issues", "entities"}
    assert payload["issues"][0] == {"id": "voucher-missing", "score": payload["confidence"]}


def test_dash_reads_standard_input(runner):
    result = _run(runner, "classify", "--json", "-", stdin="thanks, it worked!")
    assert json.loads(result.stdout)["issue"] == "not-a-request"


def test_codes_are_masked_in_the_output(runner):
    result = _run(runner, "classify", "--json", "my promo code ABCD-EFGH-7Q2K is rejected")
    assert "ABCD-EFGH-7Q2K" not in result.stdout
    assert json.loads(result.stdout)["entities"]["voucher_codes"] == ["****-7Q2K"]


def test_summary_and_explain(runner):
    result = _run(runner, "classify", "--explain", ACCEPTANCE)
    assert result.exit_code == 0
    assert "voucher-missing" in result.stdout and "why" in result.stdout
    assert "71-621" in result.stdout


def test_explain_with_json_adds_the_explanation(runner):
    payload = json.loads(_run(runner, "classify", "--json", "--explain", ACCEPTANCE).stdout)
    assert payload["explanation"] and payload["explanation"][0]["issue"] == "voucher-missing"


def test_binary_junk_on_stdin_is_an_answer_not_a_crash(runner):
    result = _run(runner, "classify", "--json", stdin=b"\xff\xfe\x00\x81junk\xc3")
    assert result.exit_code == 0
    assert "issue" in json.loads(result.stdout)


def test_unknown_message_prints_null(runner):
    payload = json.loads(_run(runner, "classify", "--json", "lunch at noon?").stdout)
    assert payload["issue"] is None and payload["issues"] == []


def test_eval_prints_figures_and_confusion(runner):
    result = _run(runner, "eval", str(DATA_DIR / "eval-holdout.jsonl"))
    assert result.exit_code == 0, result.output
    for expected in ("top-1 accuracy", "precision", "recall", "confusion", "exams", "providers"):
        assert expected in result.stdout


def test_eval_json(runner):
    payload = json.loads(_run(runner, "eval", "--json", str(DATA_DIR / "eval-tune.jsonl")).stdout)
    assert payload["tune"]["messages"] > 100
    assert 0 <= payload["tune"]["top1_accuracy"] <= 1
    assert payload["tune"]["trained_on"] is True


@pytest.mark.slow
def test_eval_reports_the_blind_split_against_the_targets_beside_the_baseline(runner):
    payload = json.loads(_run(runner, "eval", "--json").stdout)
    assert {"tune", "blind-train", "holdout", "blind"} <= set(payload)
    assert payload["blind"]["trained_on"] is False
    targets = payload["targets"]
    assert targets["top1_accuracy"]["target"] == 0.93
    assert targets["top1_accuracy"]["measured"] == payload["blind"]["top1_accuracy"]
    assert set(targets) >= {"min_recall", "multi_issue_recall", "entity_f1", "requests_dropped",
                            "wrong_above_auto"}  # fmt: skip
    assert 0.5 < payload["baseline"]["blind"]["top1_accuracy"] < 1
    assert "non-native" in payload["blind"]["per_voice"]
    assert payload["thresholds"]["auto_answer"] > 0


def test_a_bad_knowledge_dir_is_one_line_and_exit_2(tmp_path):
    from bot.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["classify", "--knowledge", str(tmp_path / "missing"), "hello"])
    assert exited.value.code == 2
