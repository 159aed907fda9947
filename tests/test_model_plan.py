"""Transactions: a Plan undoes the steps that succeeded, in reverse, when a later one fails;
a Cleanup tries every step and counts "already gone" as done."""

from __future__ import annotations

import pytest

from ctrnet.errors import BackendError, NotFound
from ctrnet.plan import Cleanup, InjectedFault, Plan, fail_at


def test_failure_at_step_k_undoes_steps_before_it_in_reverse() -> None:
    log: list[str] = []
    with pytest.raises(RuntimeError), Plan("op") as plan:
        for name in ("a", "b", "c"):
            plan.step(name, lambda n=name: log.append(f"do {n}"),
                      lambda _, n=name: log.append(f"undo {n}"))
        plan.step("d", lambda: (_ for _ in ()).throw(RuntimeError("d failed")))
    assert log == ["do a", "do b", "do c", "undo c", "undo b", "undo a"]


def test_success_keeps_everything_and_runs_no_undo() -> None:
    log: list[str] = []
    with Plan("op") as plan:
        value = plan.step("a", lambda: 42, lambda v: log.append(f"undo {v}"))
    assert value == 42 and log == [] and plan.done == ["a"]


def test_the_undo_receives_what_the_step_returned() -> None:
    seen: list[int] = []
    with pytest.raises(InjectedFault), Plan("op", fault=fail_at("b")) as plan:
        plan.step("a", lambda: 7, seen.append)
        plan.step("b", lambda: 8, seen.append)
    assert seen == [7]


def test_a_failing_undo_does_not_stop_the_others_and_is_noted() -> None:
    log: list[str] = []

    def broken(_: object) -> None:
        raise RuntimeError("undo broke")

    with pytest.raises(InjectedFault) as caught, Plan("op", fault=fail_at("c")) as plan:
        plan.step("a", lambda: None, lambda _: log.append("undo a"))
        plan.step("b", lambda: None, broken)
        plan.step("c", lambda: None)
    assert log == ["undo a"]
    assert any("undo of step 'b' failed" in note for note in caught.value.__notes__)


def test_fault_hook_names_the_operation_and_step() -> None:
    with Plan("create", fault=fail_at("x", "connect")) as plan:
        plan.step("x", lambda: None)  # another operation's step x: not failed
    with pytest.raises(InjectedFault, match="connect:x"), \
            Plan("connect", fault=fail_at("x", "connect")) as plan:
        plan.step("x", lambda: None)


def test_undo_runs_on_keyboard_interrupt_too() -> None:
    log: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), Plan("op") as plan:
        plan.step("a", lambda: None, lambda _: log.append("undo a"))
        plan.step("b", interrupt)
    assert log == ["undo a"]


def test_cleanup_tries_every_step_treats_not_found_as_done_and_raises_the_first_error() -> None:
    log: list[str] = []

    def gone() -> None:
        raise NotFound("no such link")

    def broken() -> None:
        raise BackendError("EBUSY")

    job = Cleanup("delete")
    job.step("a", gone)
    job.step("b", broken)
    job.step("c", lambda: log.append("c"))
    assert log == ["c"]
    with pytest.raises(BackendError, match="EBUSY") as caught:
        job.finish()
    assert any("run it again" in note for note in caught.value.__notes__)
    Cleanup("delete").finish()  # nothing failed: nothing raised


def test_spawned_steps_run_beside_later_ones_and_are_undone_when_a_later_step_fails() -> None:
    from concurrent.futures import ThreadPoolExecutor

    log: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(InjectedFault), \
                Plan("op", fault=fail_at("c"), executor=pool) as plan:
            plan.step("a", lambda: log.append("do a"), lambda _: log.append("undo a"))
            plan.spawn("b", lambda: log.append("do b"), lambda _: log.append("undo b"))
            plan.step("c", lambda: None)
    assert log.index("undo b") < log.index("undo a")
    assert log[-1] == "undo a"


def test_a_failing_spawned_step_fails_the_plan_at_join_and_undoes_the_rest() -> None:
    from concurrent.futures import ThreadPoolExecutor

    log: list[str] = []

    def broken() -> None:
        raise RuntimeError("tool failed")

    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(RuntimeError, match="tool failed"), \
                Plan("op", executor=pool) as plan:
            plan.step("a", lambda: None, lambda _: log.append("undo a"))
            plan.spawn("b", broken, lambda _: log.append("undo b"))
            plan.spawn("c", lambda: None, lambda _: log.append("undo c"))
            plan.step("d", lambda: None, lambda _: log.append("undo d"))
            plan.join()
    assert log == ["undo c", "undo d", "undo a"]  # collected at join, so undone first


def test_without_an_executor_spawn_is_a_plain_step() -> None:
    order: list[str] = []
    with Plan("op") as plan:
        plan.spawn("a", lambda: order.append("a"))
        order.append("after")
    assert order == ["a", "after"] and plan.done == ["a"]


def test_cleanup_spawned_steps_are_awaited_and_their_failures_raised_at_finish() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def gone() -> None:
        raise NotFound("rule gone")

    def broken() -> None:
        raise BackendError("tool failed")

    with ThreadPoolExecutor(2) as pool:
        job = Cleanup("disconnect", executor=pool)
        job.spawn("a", gone)
        job.spawn("b", broken)
        job.join()
        assert [name for name, _ in job.errors] == ["b"]
        with pytest.raises(BackendError, match="tool failed"):
            job.finish()
