"""Shared by the state tests: the `ctrnet` command line in a real process (SIGKILL needs
one), the world of a state directory opened in this process as a later command would open
it, and what "nothing left" and "ps agrees with the world" mean."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrnet.backend import IN_PROCESS, Backend
from ctrnet.cli_network import open_world
from ctrnet.conformance.implementation.observe import snapshot
from ctrnet.endpoint import OP_KEY
from ctrnet.manager import NetworkManager
from ctrnet.network import Mode
from ctrnet.registry import entry, open_backend

#: `python -c` running the CLI of the ctrnet this test imports (the venv's or tox's).
CLI = "import sys; from ctrnet.cli import main; sys.exit(main())"
#: State files whose bytes move on with every allocation (IPAM cursor and journal) or that
#: are the world itself (compared through the backend instead).
_VOLATILE = {"lock", "last_reserved_ip", "journal", "world.json", "kernel-world"}


def kernel_unavailable() -> str | None:
    """Why the kernel backend cannot run these tests here, or None when it can."""
    if os.geteuid() != 0:
        return "the kernel backend needs root (run the tests as root to include it)"
    if importlib.util.find_spec("pyroute2") is None:
        return "pyroute2 is not installed (pip install ctrnet[kernel])"
    missing = [t for t in ("iptables", "iptables-restore", "ebtables") if not shutil.which(t)]
    if missing:
        return f"{', '.join(missing)} not installed"
    return None


def backends() -> list[Any]:
    """The backends to run on: the simulator always, the kernel when it can run here (else
    a skip that says why)."""
    reason = kernel_unavailable()
    return ["sim", pytest.param("kernel", marks=pytest.mark.skipif(
        reason is not None, reason=reason or ""))]


def cli(name: str, state: Path, *argv: str, crash_at: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`ctrnet ARGV… --backend NAME --state-dir STATE` in a new process."""
    env = dict(os.environ)
    env.pop("CTRNET_CRASH_AT", None)
    if crash_at is not None:
        env["CTRNET_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", CLI, *argv, "--backend", name,
                           "--state-dir", str(state)],
                          capture_output=True, text=True, env=env, timeout=timeout)


@contextlib.contextmanager
def world(name: str, state: Path) -> Iterator[tuple[Backend, NetworkManager]]:
    """The world and manager of `state`, as the next command would open them."""
    with open_world(name, str(state)) as backend:
        manager = NetworkManager(backend, state)
        try:
            yield backend, manager
        finally:
            manager.close()


def destroy(name: str, state: Path) -> None:
    """Remove a kept kernel world's namespaces, which outlive the state directory (a world
    in the process's memory, the simulator's, is a file of the directory and goes with it)."""
    if IN_PROCESS in entry(name).capabilities \
            or not (state / "world" / "kernel-world").exists():
        return
    backend = open_backend(name, state_dir=str(state / "world"))
    backend.destroy()  # type: ignore[attr-defined]


def state_files(state: Path) -> list[tuple[str, bytes]]:
    """The records (not the world, the lock or the IPAM cursor), by path, with their bytes."""
    found = []
    for dirpath, _dirs, names in os.walk(state):
        for name in names:
            if name in _VOLATILE:
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                data = handle.read()
            rel = os.path.relpath(path, state)
            if rel.startswith("endpoints" + os.sep):
                # The id of the connect that made it differs from run to run.
                record = json.loads(data)
                record.get("extra", {}).pop(OP_KEY, None)
                data = json.dumps(record, sort_keys=True).encode()
            found.append((rel, data))
    return sorted(found)


def observe(backend: Backend, state: Path) -> dict[str, Any]:
    """The world through the backend, and the records, for before/after comparisons."""
    seen = snapshot(backend)
    seen["state"] = state_files(state)
    return seen


def leftovers(state: Path) -> list[str]:
    """Temporary files and journal entries: none may remain once a command has run."""
    found = []
    for dirpath, _dirs, names in os.walk(state):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), state)
            if name.startswith(".") or rel.startswith("journal" + os.sep):
                found.append(rel)
    return found


def disagreements(backend: Backend, manager: NetworkManager) -> list[str]:
    """Where `ps` (the records) and the world disagree: an endpoint without its namespace,
    veth or address; a ctrnet veth, an address reservation or a port claim no endpoint
    accounts for."""
    problems = []
    endpoints = manager.endpoints()
    host = backend.host_ns
    host_links = {link.name for link in backend.link_list(host)}
    namespaces = set(backend.netns_list())
    for ep in endpoints:
        if not ep.active:
            problems.append(f"{ep.container}@{ep.network} is not up")
        if ep.mode is Mode.HOST:
            continue
        if ep.container not in namespaces:
            problems.append(f"{ep.container}: no namespace")
            continue
        if ep.mode is Mode.BRIDGE:
            if ep.host_ifname not in host_links:
                problems.append(f"{ep.container}: no host veth {ep.host_ifname}")
            held = {a.cidr for a in backend.addr_list(ep.container, ep.ifname)}
            if f"{ep.ip}/{ep.prefixlen}" not in held:
                problems.append(f"{ep.container}: {ep.ifname} lacks {ep.ip}")
    known = {ep.host_ifname for ep in endpoints}
    strays = sorted(n for n in host_links if n.startswith("vc") and n not in known)
    if strays:
        problems.append(f"veths no endpoint accounts for: {strays}")
    for net in manager.networks():
        reserved = {str(a): owner for a, owner in manager.allocator(net).allocations().items()}
        recorded = {ep.ip: ep.container for ep in endpoints if ep.network == net.name}
        if reserved != recorded:
            problems.append(f"IPAM of {net.name} holds {reserved}, the records {recorded}")
    claimed = manager.state.port_owners()
    publishing = {f"{ep.network}/{ep.container}" for ep in endpoints if ep.ports}
    if claimed != publishing:
        problems.append(f"port claims of {sorted(claimed)}, published by {sorted(publishing)}")
    return problems
