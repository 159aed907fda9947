"""Processes sharing one state directory: connects from several processes at once get
distinct addresses and every one of them is recorded (IPAM FileStore lock, the world lock),
and no lock outlives a failed operation. Forked children each act on a copy of the
simulated world, so only the shared state is contended: what these tests are about."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from ctrnet.backend import IN_PROCESS, Backend
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec, PortMapping
from ctrnet.plan import InjectedFault, fail_at
from ctrnet.rules import render

pytestmark = pytest.mark.requires("iptables", "ebtables")

WORKERS = 8
PER_WORKER = 25
NET = NetworkSpec(name="n1", subnet="10.90.0.0/23", bridge="br1")


def _lock_is_free(state: Path) -> bool:
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_eight_processes_connecting_at_once_get_distinct_addresses_and_lose_no_record(
        backend: Backend, tmp_path: Path) -> None:
    reason = backend.missing(IN_PROCESS)
    if reason:
        pytest.skip(f"{reason}: a forked child can only use a copy of a world in this "
                    "process's memory")
    state = tmp_path / "state"
    NetworkManager(backend, state).create_network(NET)
    containers = [f"c{i}" for i in range(WORKERS * PER_WORKER)]
    for name in containers:
        backend.netns_add(name)
    children = []
    for worker in range(WORKERS):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                mgr = NetworkManager(backend, state, fsync=False)
                for index in range(worker, len(containers), WORKERS):
                    mgr.connect(EndpointSpec(containers[index], "n1",
                                             ports=(PortMapping(20000 + index, 80),)))
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert codes == [0] * WORKERS
    mgr = NetworkManager(backend, state)
    endpoints = mgr.endpoints("n1")
    assert len(endpoints) == WORKERS * PER_WORKER and all(e.active for e in endpoints)
    addresses = [e.ip for e in endpoints]
    assert len(set(addresses)) == len(addresses)
    assert sorted(mgr.allocator(NET).allocations().values()) == sorted(containers)
    dnat = [line for line in render([NET], endpoints).lines("nat") if "-j DNAT" in line]
    assert len(dnat) == WORKERS * PER_WORKER
    assert _lock_is_free(state)


@pytest.mark.parametrize("step", ["iptables", "claim-endpoint", "create-veth"])
def test_no_lock_is_held_after_a_failed_connect(
        backend: Backend, tmp_path: Path, step: str) -> None:
    state = tmp_path / "state"
    mgr = NetworkManager(backend, state, fsync=False, fault=fail_at(step, "connect"))
    mgr.create_network(NET)
    backend.netns_add("c1")
    with pytest.raises(InjectedFault):
        mgr.connect(EndpointSpec("c1", "n1"))
    assert _lock_is_free(state)
    assert _lock_is_free(state / "ipam" / "n1")
    mgr.fault = None
    assert mgr.connect(EndpointSpec("c1", "n1")).active
