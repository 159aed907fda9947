"""SIGKILL at every step of every operation, on both backends: the next command (any) finds
the operation's journal entry and undoes it (connect, network create) or finishes it
(disconnect, network rm, gc). Afterwards the world and the records are what they would be
had the operation never started (or had it finished): no namespace, link, rule, address,
port claim, reservation, journal entry or temporary file left, and `ps` agrees with the
world.

The steps are not listed here: a successful run of the same command with --progress names
them (as conformance/implementation/test_rollback.py learns them from the code), and the
manager's MILESTONES (journal written, world made durable, outcome) are added. The command
kills itself there: CTRNET_CRASH_AT=OPERATION:STEP.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from state_helpers import (
    backends,
    cli,
    destroy,
    disagreements,
    leftovers,
    observe,
    world,
)

from ctrnet.cli import main
from ctrnet.conformance.implementation.expect import world_diff
from ctrnet.manager import MILESTONES, NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec, PortMapping

_PROGRESS = re.compile(r"^  ([a-z-]+): ([a-z0-9-]+)$")
NET = NetworkSpec(name="web", subnet="10.98.0.0/24", bridge="br-crash")
Setup = Callable[[NetworkManager], None]


@dataclass(frozen=True)
class Case:
    """One operation: the state before it (`setup`), the command, the operation name its
    journal entry has, and whether recovery undoes it or finishes it. `reference` builds
    the world recovery must reach: the setup for an undone operation; for a finished one,
    what the operation leaves when it runs to its end."""

    name: str
    setup: Setup
    argv: tuple[str, ...]
    journal_op: str
    reference: Setup


def _net(mgr: NetworkManager) -> None:
    mgr.create_network(NET)


def _net_and_c2(mgr: NetworkManager) -> None:
    _net(mgr)
    mgr.connect(EndpointSpec("c2", "web", ports=(PortMapping(8081, 80),)), create_netns=True)


def _with_c1(mgr: NetworkManager) -> None:
    _net_and_c2(mgr)
    mgr.connect(EndpointSpec("c1", "web", ports=(PortMapping(8080, 80),)), create_netns=True)


def _c1_gone(mgr: NetworkManager) -> None:
    _with_c1(mgr)
    mgr.backend.netns_delete("c1")  # the container went away without a disconnect


def _c1_ns(mgr: NetworkManager) -> None:
    mgr.backend.netns_add("c1")


def _c1_connected_no_create(mgr: NetworkManager) -> None:
    _c1_ns(mgr)
    _net(mgr)
    mgr.connect(EndpointSpec("c1", "web", ports=(PortMapping(8080, 80),)))


def _nothing(mgr: NetworkManager) -> None:
    pass


CASES = [
    Case("connect", _net_and_c2,
         ("connect", "web", "c1", "--create-netns", "-p", "8080:80", "--dns", "192.0.2.53"),
         "connect", _net_and_c2),
    Case("network-create", _nothing, ("network", "create", "web", "--subnet", NET.subnet,
                                      "--bridge", NET.bridge), "network-create", _nothing),
    Case("disconnect", _with_c1, ("disconnect", "web", "c1", "--delete-netns"),
         "disconnect", _net_and_c2),
    Case("network-rm", _c1_connected_no_create, ("network", "rm", "web", "--force"),
         "network-rm", _c1_ns),
    Case("gc", _c1_gone, ("gc",), "gc", _net_and_c2),
]


def _prepare(name: str, state: Path, setup: Setup) -> None:
    with world(name, state) as (_backend, manager):
        setup(manager)


def _steps(name: str, tmp: Path, case: Case) -> list[str]:
    """OPERATION:STEP of every point of the command, in order: its progress lines (a run
    that succeeds) and the manager's milestones."""
    state = tmp / "discover"
    try:
        _prepare(name, state, case.setup)
        done = cli(name, state, *case.argv, "--progress")
        assert done.returncode == 0, done.stderr
    finally:
        destroy(name, state)
    points = []
    for line in done.stderr.splitlines():
        match = _PROGRESS.match(line)
        if match and f"{match[1]}:{match[2]}" not in points:
            points.append(f"{match[1]}:{match[2]}")
    assert len(points) >= 3, f"{case.name} showed only {points}"
    return [f"{case.journal_op}:{MILESTONES[0]}", *points,
            *(f"{case.journal_op}:{m}" for m in MILESTONES[1:])]


def _reference(name: str, state: Path, case: Case) -> dict[str, object]:
    try:
        with world(name, state) as (backend, manager):
            case.reference(manager)
            return observe(backend, state)
    finally:
        destroy(name, state)


@pytest.mark.parametrize("name", backends())
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_command_killed_at_any_step_is_recovered_by_the_next_command(
        name: str, case: Case, tmp_path: Path) -> None:
    steps = _steps(name, tmp_path, case)
    expected = _reference(name, tmp_path / "reference", case)
    failures = []
    for n, point in enumerate(steps):
        state = tmp_path / f"crash-{n}"
        try:
            _prepare(name, state, case.setup)
            killed = cli(name, state, *case.argv, crash_at=point)
            assert killed.returncode == -signal.SIGKILL, (
                f"{point}: not reached (exit {killed.returncode}): {killed.stderr}")
            # The next command, whatever it is: here `ps` (in this process: the same code
            # as a new one runs, without the interpreter's start-up).
            assert main(["ps", "--backend", name, "--state-dir", str(state)]) == 0, point
            with world(name, state) as (backend, manager):
                found = observe(backend, state)
                wrong = disagreements(backend, manager)
            left = leftovers(state)
        finally:
            destroy(name, state)
        if found != expected or wrong or left:
            failures.append(f"{point}: {world_diff(expected, found)} {wrong} {left}".strip())
    assert not failures, "\n".join(failures)
