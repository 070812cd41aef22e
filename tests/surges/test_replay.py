"""Replay floors: days of everyday traffic with a wave, and quiet days, through surge detection
(`bot.surges.replay`, printed by `bench/replay_surges.py`). Detection was tuned on w1 and q1; the
other days guard the figures in the README, a little below what was measured."""

from datetime import timedelta

import pytest

from bot.config.app import SurgesConfig
from bot.matching.matcher import shipped_model
from bot.surges.replay import DayPlan, DayResult, load_rows, replay_day
from tests.conftest import DATA_DIR, KNOWLEDGE_DIR

# Each wave's start and the day's seed, as in bench/replay_surges.py.
STARTS = {"w1": 9.0, "w2": 10.5, "w3": 13.0, "w4": 11.0, "w5": 14.5}
SEEDS = {"w1": 10, "w2": 11, "w3": 12, "w4": 13, "w5": 14, "q1": 101, "q2": 102, "q3": 103}
# Floors a little below the measured figures (README, "Surges"): messages into the wave at
# the alert (at most), the wave surge's precision at the alert and at the day's end (at least).
FLOORS = {
    "w2": (8, 0.95, 0.93),  # measured 7, 1.0, 0.963
    "w3": (5, 0.75, 0.85),  # measured 4, 0.8, 0.9 (precision at the alert: target 0.9 not met)
    "w4": (7, 0.95, 0.93),  # measured 6, 1.0, 0.97
    "w5": (15, 0.95, 0.95),  # measured 14, 1.0, 1.0 (target 10: not met)
}


@pytest.fixture(scope="module")
def rows():
    return load_rows(DATA_DIR, KNOWLEDGE_DIR)


def _replay(rows, name: str) -> DayResult:
    everyday, decoys, waves = rows
    plan = DayPlan(
        name=name, seed=SEEDS[name], wave=waves.get(name, ()),
        wave_start=timedelta(hours=STARTS.get(name, 10.0)),
    )  # fmt: skip
    return replay_day(
        plan, everyday=everyday, decoys=decoys, config=SurgesConfig(),
        thresholds=shipped_model().thresholds,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["w2", "w3", "w4", "w5"])
def test_a_wave_is_alerted_early_with_a_precise_group(rows, name):
    result = _replay(rows, name)
    most, at_alert, at_end = FLOORS[name]
    assert result.into_wave is not None and result.into_wave <= most
    assert result.precision_at_alert >= at_alert
    assert result.precision_final >= at_end
    assert result.false_alerts == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["q2", "q3"])
def test_a_quiet_day_raises_no_alert(rows, name):
    assert _replay(rows, name).alerts == 0
