"""Concurrency and crash safety (topic concurrency): parallel ADDs to one network get distinct
addresses and lose no rule; a process killed in the middle of an ADD leaves nothing that a
DEL cannot remove. The backend calls are serialised by a proxy (backends need not be
thread-safe); the implementation's own bookkeeping runs truly in parallel between them."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ctrnet.backend import Backend

from .adapter import Implementation
from .conftest import make_containers
from .expect import world_diff
from .observe import snapshot

WORKERS = 8
PER_WORKER = 25
NET = {"name": "n1", "bridge": "ctr1", "subnet": "10.130.0.0/23"}


class SerialBackend:
    """Every backend call under one lock; everything else passes through."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._backend, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return call


@pytest.mark.topic("concurrency")
@pytest.mark.checklist("ipam")
@pytest.mark.impl_requires("threads")
def test_eight_workers_adding_twenty_five_containers_each_get_distinct_addresses(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    containers = make_containers(backend, WORKERS * PER_WORKER)
    parallel = type(impl)(SerialBackend(backend), impl.workdir)  # type: ignore[arg-type]

    def worker(index: int) -> list[str]:
        mine = containers[index::WORKERS]
        ports = [{"hostPort": 20000 + containers.index(ns), "containerPort": 80}
                 for ns in mine]
        return [parallel.add("n1", ns, runtime={"portMappings": [port]}).ip
                for ns, port in zip(mine, ports, strict=True)]

    with ThreadPoolExecutor(WORKERS) as pool:
        reported = [ip for ips in pool.map(worker, range(WORKERS)) for ip in ips]
    parallel.teardown()
    holders: dict[str, str] = {}
    seen = []
    for ns in containers:
        for a in backend.addr_list(ns, "eth0"):
            assert a.ip not in holders, (
                f"container {ns} got {a.ip}, already held by {holders.get(a.ip)}")
            holders[a.ip] = ns
            seen.append(a.ip)
    total = WORKERS * PER_WORKER
    assert len(seen) == total, (
        f"the {total} containers hold {len(seen)} addresses on eth0, expected {total}")
    assert sorted(seen) == sorted(reported), (
        "the addresses the ADDs reported differ from those the containers hold: reported only "
        f"{sorted(set(reported) - set(seen))[:3]}, held only "
        f"{sorted(set(seen) - set(reported))[:3]}")
    # No lost rule: every container's published port has its DNAT rule.
    nat = backend.iptables_save(backend.host_ns, table="nat")
    dnat = [line for line in nat.splitlines() if "-j DNAT" in line]
    assert len(dnat) == total, (
        f"nat table holds {len(dnat)} DNAT rules after {total} parallel ADDs with one published "
        "port each: concurrent rule updates lost some")
    # No lock held after the storm: a plain ADD goes through at once.
    backend.netns_add("late")
    impl.add("n1", "late")


def _in_child(action: Callable[[], None]) -> int:
    """Run `action` in a forked child; its exit status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            action()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.topic("concurrency")
@pytest.mark.impl_requires("fault-injection")
def test_a_process_killed_in_the_middle_of_an_add_leaves_nothing_a_delete_cannot_remove(
        backend: Backend, impl: Implementation) -> None:
    impl.setup(NET)
    [c1] = make_containers(backend, 1)
    steps = impl.steps("connect", lambda: impl.add("n1", c1))
    impl.delete("n1", c1)
    before = snapshot(backend, state_dir=impl.state_dir)
    for step in steps:
        def crash(step: str = step) -> None:
            impl.inject(step, "connect", kill=True)  # dies like SIGKILL: no undo runs
            impl.add("n1", c1)

        status = _in_child(crash)
        assert status == 9, (
            f"the ADD killed at step {step!r} exited with {status}, expected death by signal 9")
        impl.delete("n1", c1)
        after = snapshot(backend, state_dir=impl.state_dir)
        assert after == before, (
            f"ADD killed at step {step!r}, then DEL left: {world_diff(before, after)}")
