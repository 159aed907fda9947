"""Host-safety check of a kernel run: the root namespace must be exactly as it was.

Before the session, snapshot the namespace pytest runs in (the machine's own) with
testinfra: its links, their addresses, its routes, its iptables rules and ip_forward.
After the session, snapshot again and fail the run with a diff if anything differs, or if a
namespace of one of this process's worlds is still pinned in /run/netns.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

Snapshot = dict[str, list[str]]

#: Route attributes that change on their own (lease lifetimes, kernel-managed caches).
_VOLATILE_ROUTE_KEYS = {"expires", "metrics", "cacheinfo"}


def _links(host: Any) -> list[str]:
    lines = []
    for name in sorted(host.interface.names()):
        interface = host.interface(name)
        [link] = interface.link
        flags = sorted(f for f in link.get("flags", []) if f != "LOWER_UP")  # carrier may flap
        lines.append(
            f"{name} mtu={link.get('mtu')} mac={link.get('address')} master={link.get('master')}"
            f" flags={','.join(flags)} addresses={','.join(sorted(interface.addresses))}"
        )
    return lines


def _routes(host: Any) -> list[str]:
    lines = []
    for family in ("-4", "-6"):
        result = host.run(f"ip {family} -json route show table all")
        if result.rc != 0:
            continue
        for route in json.loads(result.stdout or "[]"):
            stable = {k: v for k, v in route.items() if k not in _VOLATILE_ROUTE_KEYS}
            lines.append(json.dumps(stable, sort_keys=True))
    return sorted(lines)


def _iptables(host: Any) -> list[str]:
    """Rules and non-default policies of iptables-save; comments and counters dropped, and a
    table that merely appeared with ACCEPT policies (a module loaded by a sandbox's rules,
    with legacy iptables) is no change."""
    if not host.exists("iptables-save"):
        return []
    table = ""
    lines = []
    for line in host.check_output("iptables-save").splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):  # ":CHAIN POLICY [packets:bytes]"; a user chain's is "-"
            chain, policy = line[1:].split()[:2]
            if policy != "ACCEPT":
                lines.append(f"{table}: chain {chain} {policy}")
        elif line.startswith("-"):
            lines.append(f"{table}: {line}")
    return sorted(lines)


def snapshot() -> Snapshot:
    """The root namespace as testinfra sees it (`local://`: commands run as this process)."""
    import testinfra

    host = testinfra.get_host("local://")
    return {
        "links": _links(host),
        "routes": _routes(host),
        "iptables": _iptables(host),
        "ip_forward": [str(host.sysctl("net.ipv4.ip_forward"))],
    }


def differences(before: Snapshot, after: Snapshot) -> str:
    """A unified diff per changed section, or "" when nothing changed."""
    parts = []
    for section in sorted(set(before) | set(after)):
        old, new = before.get(section, []), after.get(section, [])
        if old != new:
            diff = difflib.unified_diff(old, new, f"{section} before", f"{section} after",
                                        lineterm="")
            parts.append("\n".join(diff))
    return "\n".join(parts)


def leaked_namespaces() -> list[str]:
    """Namespaces of this process's kernel worlds still pinned in /run/netns."""
    from ctrnet.backends.kernel import NETNS_PREFIX
    from ctrnet.backends.kernel.nsfs import listed

    mine = f"{NETNS_PREFIX}{os.getpid()}-"
    return [name for name in listed() if name.startswith(mine)]


@pytest.fixture(scope="session", autouse=True)
def root_namespace_unchanged(request: pytest.FixtureRequest) -> Iterator[None]:
    """As root: fail the session if the root namespace changed or a kernel world leaked.

    Also on --backend sim: there, subprocesses (a graded plugin, a `ctrnet sim exec` script)
    run with root's power and could reach the real kernel if their isolation failed."""
    if os.geteuid() != 0:
        yield
        return
    from ctrnet.backends.kernel import sweep_stale

    sweep_stale()  # earlier runs killed with SIGKILL: their namespaces are no longer anyone's
    before = snapshot()
    yield
    problems = []
    diff = differences(before, snapshot())
    if diff:
        problems.append(f"the root network namespace changed during the run:\n{diff}")
    leaked = leaked_namespaces()
    if leaked:
        from ctrnet.backends.kernel.nsfs import remove

        for name in leaked:
            remove(name)
        problems.append(f"namespaces left behind (now removed): {', '.join(leaked)}")
    if problems:
        pytest.fail("HOST SAFETY: " + "\n".join(problems), pytrace=False)
