"""The /health verdict (shared/service/readiness.py) without a broker: crashed agents, stalled partitions,
recovery and plugged-in checks each make it not ready, with a status an operator can look up."""

from __future__ import annotations

from shared.service.readiness import Readiness


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_ready_when_nothing_is_wrong_and_recovering_while_tables_restore():
    r = Readiness(clock=Clock())
    assert r.verdict().ready and r.verdict().status == "ready"
    v = r.verdict(recovering=True)
    assert not v.ready and v.status == "recovering"


def test_a_crashed_agent_is_not_ready_until_it_finishes_a_batch_and_failures_count_up():
    r = Readiness(clock=Clock())
    assert r.agent_crashed("pn-x.a", RuntimeError("boom")) == 1
    assert r.agent_crashed("pn-x.a", RuntimeError("boom")) == 2
    v = r.verdict()
    assert not v.ready and v.status == "agent_crashed" and "RuntimeError" in v.reasons[0]
    assert "boom" not in v.reasons[0]  # the type only: an exception text may carry personal data
    r.agent_ok("pn-x.a")
    assert r.verdict().ready
    assert r.agent_crashed("pn-x.a", RuntimeError()) == 1


def test_a_partition_with_records_behind_that_does_not_move_is_stalled_a_moving_one_is_not():
    clock = Clock()
    r = Readiness(stall_after_s=60, clock=clock)
    r.processed("t", 0, 9)  # next: 10
    r.processed("t", 1, 4)  # next: 5
    r.measured({("t", 0): 13, ("t", 1): 5}, {})
    assert r.lag() == {("t", 0): 3, ("t", 1): 0}
    clock.t += 59
    assert r.verdict().ready
    clock.t += 2
    v = r.verdict()
    assert not v.ready and v.status == "stalled" and v.reasons[0].startswith("t[0] stands at offset 10 with 3")
    r.processed("t", 0, 10)  # it moves again
    assert r.verdict().ready


def test_an_idle_partition_at_its_end_is_never_stalled_and_committed_offsets_give_a_position():
    clock = Clock()
    r = Readiness(stall_after_s=10, clock=clock)
    r.measured({("t", 2): 7, ("t", 3): 9}, {("t", 2): 7, ("t", 3): None})
    clock.t += 100
    assert r.lag() == {("t", 2): 0}
    assert r.verdict().ready


def test_recovery_resets_the_stall_clock_and_unassigned_partitions_are_forgotten():
    clock = Clock()
    r = Readiness(stall_after_s=10, clock=clock)
    r.measured({("t", 0): 5}, {("t", 0): 2})
    clock.t += 9
    r.verdict(recovering=True)
    clock.t += 9
    assert r.verdict().ready
    clock.t += 2
    assert r.verdict().status == "stalled"
    r.measured({}, {})
    assert r.verdict().ready and r.lag() == {}


def test_a_plugged_in_check_makes_it_not_ready_with_its_own_status():
    r = Readiness(clock=Clock())
    problem: list[str] = []
    r.add_check("undecodable_batch", lambda: problem[0] if problem else None)
    assert r.verdict().ready
    problem.append("pn.care.days[1]: a batch the client cannot decode at offset 77")
    v = r.verdict()
    assert (v.ready, v.status, v.reasons) == (False, "undecodable_batch", (problem[0],))
    assert v.body("billing") == {"service": "billing", "status": "undecodable_batch", "reasons": [problem[0]]}


def test_records_arriving_at_a_long_idle_partition_are_not_a_stall_at_once():
    clock = Clock()
    r = Readiness(stall_after_s=10, clock=clock)
    r.processed("t", 0, 4)
    r.measured({("t", 0): 5}, {})
    clock.t += 3600  # idle for an hour
    r.measured({("t", 0): 8}, {})  # three records arrive
    assert r.verdict().ready
    clock.t += 11
    assert r.verdict().status == "stalled"
