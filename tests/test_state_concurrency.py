"""Many commands at once, as separate processes, on both backends: 20 connects (each making
its namespace), gc beside them and the disconnects of the previous round, repeated. Every
command succeeds, no address is handed out twice, `ps` agrees with the world after every
round, and nothing is left once everything is removed."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from state_helpers import CLI, backends, cli, destroy, disagreements, leftovers, world

CONNECTS = 20
GCS = 3
ROUNDS = 2


def _start(name: str, state: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CLI, *argv, "--backend", name,
                             "--state-dir", str(state)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _all(name: str, state: Path, commands: list[tuple[str, ...]]) -> list[str]:
    """Run `commands` at the same time; the failures (command, status, stderr)."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        procs = list(pool.map(lambda argv: _start(name, state, *argv), commands))
    failures = []
    for argv, proc in zip(commands, procs, strict=True):
        _out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(f"{' '.join(argv)}: exit {proc.returncode}: {err.strip()}")
    return failures


@pytest.mark.parametrize("name", backends())
def test_parallel_connects_gc_and_disconnects_never_clash_and_leave_nothing(
        name: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    try:
        done = cli(name, state, "network", "create", "busy", "--subnet", "10.95.0.0/24",
                   "--bridge", "br-busy")
        assert done.returncode == 0, done.stderr
        previous: list[str] = []
        for round_ in range(ROUNDS + 1):
            current = [f"r{round_}c{i}" for i in range(CONNECTS)] if round_ < ROUNDS else []
            commands = [("connect", "busy", c, "--create-netns",
                         "-p", f"{20000 + 100 * round_ + i}:80") for i, c in enumerate(current)]
            commands += [("gc",)] * GCS
            commands += [("disconnect", "busy", c, "--delete-netns") for c in previous]
            failures = _all(name, state, commands)
            assert not failures, "\n".join(failures)
            with world(name, state) as (backend, manager):
                endpoints = manager.endpoints()
                assert sorted(e.container for e in endpoints) == sorted(current)
                addresses = [e.ip for e in endpoints]
                assert len(set(addresses)) == len(addresses), f"duplicates: {addresses}"
                held = [a.ip for e in endpoints
                        for a in backend.addr_list(e.container, e.ifname)]
                assert sorted(held) == sorted(addresses)
                assert disagreements(backend, manager) == []
                assert sorted(backend.netns_list()) == sorted(current)
            previous = current
        done = cli(name, state, "network", "rm", "busy")
        assert done.returncode == 0, done.stderr
        with world(name, state) as (backend, manager):
            assert backend.netns_list() == []
            assert [link.name for link in backend.link_list(backend.host_ns)
                    if link.name != "lo"] == []
            assert manager.networks() == [] and manager.state.port_owners() == set()
        assert leftovers(state) == []
        assert not (state / "ipam" / "busy").exists()
    finally:
        destroy(name, state)
