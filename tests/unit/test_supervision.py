"""The supervisor's rules on units that stand in for processes: restart at once, back off, give up
on what keeps dying, leave alone what is not supervised, take turns with `up`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fraudlake.platform.supervision import Policy, Store, Supervisor


class FakeUnit:
    def __init__(self, name: str, restart_fails: bool = False, check_fails: bool = False) -> None:
        self.name = name
        self.alive = True
        self.restarts = 0
        self.restart_fails = restart_fails
        self.check_fails = check_fails

    def down(self) -> str | None:
        if self.check_fails:
            raise TimeoutError("REST call timed out")
        return None if self.alive else "not running"

    def restart(self) -> str:
        self.restarts += 1
        if self.restart_fails:
            raise RuntimeError("port 19000 is already in use")
        self.alive = True
        return ""

    def logs(self) -> list[str]:
        return [f"{self.name} log line {n}" for n in range(20)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _supervisor(tmp_path: Path, *units: FakeUnit) -> tuple[Supervisor, Clock, list[str]]:
    store = Store(tmp_path)
    store.want(*(unit.name for unit in units))
    clock, lines = Clock(), []
    return Supervisor(units, store, lines.append, Policy(), clock), clock, lines


def test_backoff_doubles_from_the_second_restart_and_a_crash_loop_is_given_up() -> None:
    policy = Policy(max_restarts=5, window_s=600, first_backoff_s=2, max_backoff_s=20)
    assert policy.due([], 100.0) == 100.0, "the first restart at once"
    assert policy.due([100.0], 101.0) == 102.0
    assert policy.due([100.0, 102.0], 103.0) == 106.0
    assert policy.due([0.0, 1.0, 2.0, 3.0], 4.0) == 3.0 + 16.0
    assert policy.due([float(n) for n in range(4)] + [590.0], 591.0) is None, "5 in 10 minutes"
    assert policy.due([0.0, 1.0, 2.0, 3.0, 4.0], 700.0) == 700.0, (
        "restarts older than the window are forgotten"
    )
    assert Policy(first_backoff_s=2, max_backoff_s=20).due([0.0, 1.0, 2.0, 3.0], 4.0) == 3.0 + 16.0
    assert Policy(max_restarts=9, max_backoff_s=20).due([float(n) for n in range(8)], 8.0) == 7.0 + 20.0


def test_a_dead_unit_is_restarted_at_once_then_with_backoff(tmp_path: Path) -> None:
    kafka = FakeUnit("kafka")
    supervisor, clock, lines = _supervisor(tmp_path, kafka)
    supervisor.check()
    assert kafka.restarts == 0, "a running unit is left alone"

    kafka.alive = False
    supervisor.check()
    assert kafka.restarts == 1 and kafka.alive
    kafka.alive = False
    clock.now += 1
    supervisor.check()
    assert kafka.restarts == 1, "the second restart waits its backoff (2 s)"
    clock.now += 1
    supervisor.check()
    assert kafka.restarts == 2
    state = supervisor.store.states()["kafka"]
    assert len(state.restarts) == 2 and state.last.startswith("restarted in")
    assert any("kafka: not running; restarting" in line for line in lines)


def test_a_unit_that_keeps_dying_is_left_down_with_its_logs_until_up(tmp_path: Path) -> None:
    minio = FakeUnit("minio", restart_fails=True)
    minio.alive = False
    supervisor, clock, lines = _supervisor(tmp_path, minio)
    for _ in range(100):
        supervisor.check()
        clock.now += 1
    assert minio.restarts == 5, "five tries, then it is left down instead of looping"
    state = supervisor.store.states()["minio"]
    assert state.left_down is not None
    assert state.left_down["reason"] == (
        "left down: it needed 5 restarts in 10 min; the last: restart failed: RuntimeError: port 19000 is"
        " already in use"
    )
    assert state.left_down["last_log_lines"][-1] == "minio log line 19"
    assert any("restart failed: RuntimeError: port 19000" in line for line in lines)

    supervisor.store.forgive()  # what `up` does
    minio.restart_fails = False
    supervisor.check()
    assert minio.restarts == 6 and minio.alive


def test_only_supervised_units_are_restarted_and_a_paused_one_is_left_alone(tmp_path: Path) -> None:
    sink, demo = FakeUnit("sink"), FakeUnit("demo")
    supervisor, _, _ = _supervisor(tmp_path, sink)
    supervisor.units = [sink, demo]
    sink.alive = demo.alive = False
    with supervisor.store.paused("sink"):
        supervisor.check()
        assert (sink.restarts, demo.restarts) == (0, 0), "demo is not supervised, sink is paused"
    assert supervisor.store.wanted() == {"sink"}, "supervised again after the pause"
    supervisor.check()
    assert (sink.restarts, demo.restarts) == (1, 0)


def test_a_unit_whose_check_fails_does_not_stop_the_others(tmp_path: Path) -> None:
    job, sink = FakeUnit("job", check_fails=True), FakeUnit("sink")
    sink.alive = False
    supervisor, _, lines = _supervisor(tmp_path, job, sink)
    supervisor.check()
    supervisor.check()
    assert sink.restarts == 1 and job.restarts == 0
    assert [line for line in lines if line.startswith("job:")] == [
        "job: cannot tell whether it runs: TimeoutError: REST call timed out"
    ], "said once, not every pass"


def test_a_pass_leaves_to_up_what_it_is_starting(tmp_path: Path) -> None:
    """`up` holds the lifecycle lock while it starts things: a pass meanwhile restarts nothing and
    does not wait (it goes on reaping), and the pass after finds the unit running."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    holding, finished = context.Event(), context.Event()

    def up() -> None:
        with Store(tmp_path).lifecycle():
            holding.set()
            time.sleep(1.0)
            finished.set()  # `up` started the unit, then let go of the lock

    class StartedByUp(FakeUnit):
        def down(self) -> str | None:
            return None if finished.is_set() else "not running"

    flink = StartedByUp("flink")
    supervisor, _, _ = _supervisor(tmp_path, flink)
    other = context.Process(target=up)
    other.start()
    assert holding.wait(10)
    supervisor.check()
    assert not finished.is_set(), "the pass waited for `up`"
    assert flink.restarts == 0, "restarted while `up` was starting it"
    other.join(10)
    supervisor.check()
    assert flink.restarts == 0, "`up` started it"


@pytest.mark.parametrize("only", [True, False])
def test_want_adds_or_replaces_the_supervised_units(tmp_path: Path, only: bool) -> None:
    store = Store(tmp_path)
    store.want("postgres", "kafka")
    store.want("job", only=only)
    assert store.wanted() == ({"job"} if only else {"postgres", "kafka", "job"})
    store.unwant("job")
    assert "job" not in store.wanted()
