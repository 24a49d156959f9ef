"""The bench's own arithmetic: how a figure is sampled beside its floor, and how its
goal is judged. (The bench itself needs a county-sized data set and runs apart:
``make bench``.)"""

import pytest

from bench import scenarios
from bench.scenarios import Figures, Run, _timed


def test_timed_alternates_floor_blocks_with_the_figures_blocks():
    calls = []

    def figure(i, warm):
        calls.append(("warm" if warm else "figure", i))
        return 0.003

    def floor(i, warm):
        calls.append(("floor", i))
        return 0.001

    run = _timed(figure, 25, 2, floor)

    assert len(run.samples) == 25
    assert len(run.floors) == scenarios.ROUNDS * scenarios.FLOOR_BLOCK
    kinds = [kind for kind, _ in calls]
    assert kinds[:2] == ["warm", "warm"]
    # Ten rounds: a block of floor requests, then a tenth of the samples (2 or 3).
    blocks = []
    for kind in kinds[2:]:
        if not blocks or blocks[-1][0] != kind:
            blocks.append([kind, 0])
        blocks[-1][1] += 1
    assert [kind for kind, _ in blocks] == ["floor", "figure"] * scenarios.ROUNDS
    assert {n for kind, n in blocks if kind == "floor"} == {scenarios.FLOOR_BLOCK}
    assert sum(n for kind, n in blocks if kind == "figure") == 25
    # The samples are numbered 0..n-1, as the batch figure relies on.
    assert [i for kind, i in calls if kind == "figure"] == list(range(25))


def test_timed_with_fewer_samples_than_rounds_alternates_once_per_sample():
    run = _timed(lambda i, warm: 0.5, 3, 0, lambda i, warm: 0.001)
    assert len(run.samples) == 3
    assert len(run.floors) == 3 * scenarios.FLOOR_BLOCK


def test_timed_counts_only_the_figures_cpu():
    """The probe reads a CPU counter that each floor request advances by 1 s and each
    sample by 0.01 s: only the samples' share may be counted."""
    used = {"app": 0.0, "db": 0.0}

    def figure(i, warm):
        used["app"] += 0.008
        used["db"] += 0.002
        return 0.01

    def floor(i, warm):
        used["app"] += 1.0
        used["db"] += 0.5
        return 0.001

    run = _timed(figure, 25, 3, floor, probe=lambda: (used["app"], used["db"]))
    assert run.cpu == pytest.approx(25 * 0.01)  # app + database, the 25 samples only
    assert run.cpu_db == pytest.approx(25 * 0.002)


def _figures(samples, floors, limit=3):
    figs = Figures(log=lambda _msg: None)
    figs.add("ping", "floor, start", [0.002] * 10)
    figs.add("ping_after", "floor, end", [0.002] * 10)
    figs.add("entry", "one entry", Run(samples, floors), floor="ping", goal="≤ 3×", limit=limit)
    figs.finalize()
    return figs.get("entry")


def test_the_goal_is_judged_on_the_floor_blocks_beside_the_figure():
    # The machine was slower while the figure ran than at the run's ends (2 ms a no-op):
    # the floor blocks sent between the figure's blocks show it.
    item = _figures([0.0080] * 20, [0.0030] * 200)
    assert round(item["ratio"], 2) == 2.67  # 8 ms ÷ 3 ms
    assert item["pass"] is True
    assert round(item["ratio_ends"], 2) == 4.0  # 8 ms ÷ 2 ms: reported, not judged
    assert item["floor_n"] == 200


def test_a_figure_over_its_limit_fails():
    item = _figures([0.0100] * 20, [0.0030] * 200)
    assert round(item["ratio"], 2) == 3.33
    assert item["pass"] is False


def test_a_ratio_goal_without_floor_blocks_fails_rather_than_passing_silently():
    item = _figures([0.0010] * 20, [])
    assert "ratio" not in item
    assert item["pass"] is False


def test_a_seconds_goal_is_judged_on_the_median():
    figs = Figures(log=lambda _msg: None)
    figs.add("batch", "a batch", Run([0.5, 0.6, 1.2]), goal="< 1 s", limit=1.0, kind="seconds")
    figs.add("slow", "a slow batch", Run([0.9, 1.1, 1.2]), goal="< 1 s", limit=1.0, kind="seconds")
    figs.finalize()
    assert figs.get("batch")["pass"] is True
    assert figs.get("slow")["pass"] is False
