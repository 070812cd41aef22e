"""Replay floors: days of everyday traffic with a wave, and quiet days, through surge detection
(`bot.surges.replay`, printed by `bench/replay_surges.py`). Each floor sits a little below what
was measured (README, "Surges"); the days detection was tuned on and the held-out days are
both guarded, and reported apart in the README."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config.app import SurgesConfig
from bot.matching.matcher import shipped_model
from bot.surges.replay import DAYS, DayResult, load_rows, plan_of, replay_day
from tests.conftest import DATA_DIR, KNOWLEDGE_DIR

# Messages into the wave at the alert (at most), the wave surge's precision at the alert and at
# the day's end (at least).
FLOORS = {
    "w1": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w2": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w3": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w4": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w5": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w6": (7, 0.95, 0.95),  # measured 6, 1.0, 0.963
    "w7": (6, 0.55, 0.88),  # measured 5, 0.571, 0.9 (precision at the alert not met)
    "w8": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w9": (10, 0.95, 0.95),  # measured 9, 1.0, 0.963
    "w10": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w11": (6, 0.95, 0.9),  # measured 5, 1.0, 0.917
    "w12": (9, 0.95, 0.95),  # measured 8, 1.0, 0.963
    "w13": (9, 0.95, 0.95),  # measured 8, 1.0, 0.967
    "w14": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w15": (7, 0.8, 0.9),  # measured 6, 0.857, 0.941 (precision at the alert not met)
    "w16": (18, 0.95, 0.95),  # measured 17, 1.0, 0.967 (target 10 not met)
    "w17": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w18": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w19": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w20": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w21": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w22": (8, 0.8, 0.95),  # measured 7, 0.833, 0.97 (precision at the alert not met)
    "w23": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w24": (6, 0.95, 0.95),  # measured 5, 1.0, 1.0
    "w25": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w26": (12, 0.95, 0.95),  # measured 11, 1.0, 1.0 (target 10 not met)
    "w27": (10, 0.95, 0.95),  # measured 9, 1.0, 1.0
    "w28": (11, 0.95, 0.95),  # measured 10, 1.0, 1.0
    "w29": (9, 0.95, 0.95),  # measured 8, 1.0, 1.0
    "w30": (13, 0.95, 0.9),  # measured 12, 1.0, 0.941 (target 10 not met)
    "w31": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w32": (11, 0.95, 0.95),  # measured 10, 1.0, 1.0
    "w33": (13, 0.95, 0.95),  # measured 12, 1.0, 0.96 (target 10 not met)
    # held out, never tuned on
    "w34": (8, 0.95, 0.95),  # measured 7, 1.0, 1.0
    "w35": (7, 0.95, 0.95),  # measured 6, 1.0, 1.0
    "w36": (10, 0.95, 0.95),  # measured 9, 1.0, 1.0
    "w37": (8, 0.95, 0.9),  # measured 7, 1.0, 0.931
}
# The replay reads no database: the PostgreSQL pass of CI would run the same days again.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="no database: run on the SQLite pass"
)
QUIET = [name for name, day in DAYS.items() if day.start is None]


@pytest.fixture(scope="module")
def rows():
    return load_rows(DATA_DIR, KNOWLEDGE_DIR)


def _replay(rows, name: str) -> DayResult:
    everyday, decoys, waves = rows
    return replay_day(
        plan_of(DAYS[name], waves), everyday=everyday, decoys=decoys, config=SurgesConfig(),
        thresholds=shipped_model().thresholds,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FLOORS))
def test_a_wave_is_alerted_early_with_a_precise_group(rows, name):
    result = _replay(rows, name)
    most, at_alert, at_end = FLOORS[name]
    assert result.into_wave is not None and result.into_wave <= most
    assert result.precision_at_alert >= at_alert
    assert result.precision_final >= at_end
    assert result.false_alerts == 0  # no other surge on a wave day


@pytest.mark.slow
@pytest.mark.parametrize("name", QUIET)
def test_a_quiet_day_raises_no_alert(rows, name):
    assert _replay(rows, name).alerts == 0


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--set", "min_count=x"], "--set: min_count: Input should be a valid integer"),
        (["--set", "window=30", "--set", "window=45"], "--set: window given twice"),
        (["--set", "history=9999999999d"], "--set: history: Value error, too long a duration"),
        (["--set", "similarity"], "--set wants KEY=VALUE, got 'similarity'"),
    ],
)
def test_the_replay_benchmark_says_what_is_wrong_with_a_setting_in_one_line(given, said):
    script = Path(__file__).resolve().parents[2] / "bench" / "replay_surges.py"
    done = subprocess.run(
        [sys.executable, str(script), *given], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert said in last and "Traceback" not in done.stderr
