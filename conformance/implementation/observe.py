"""What the implementation suite sees of a world, through the backend only.

`snapshot` takes the links, addresses, routes, sysctls, iptables-save (normalised),
ebtables listing, resolv.conf files and, optionally, the files of a state directory of a
set of namespaces, so a test can assert "the world is exactly as it was" after a failed
operation. `Wan` and `uplink` build the stand-in for the internet (TEST-NET-2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError

__all__ = ["WAN_IP", "WAN_NS", "HOST_WAN_IP", "Wan", "normalize_iptables", "snapshot", "uplink"]

WAN_NS = "wan"
HOST_WAN_IP = "198.51.100.1"
WAN_IP = "198.51.100.2"
SYSCTLS = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables")
_VOLATILE_FILES = {"lock", "last_reserved_ip", "journal"}
_BUILTIN_ONLY = {":INPUT ACCEPT", ":FORWARD ACCEPT", ":OUTPUT ACCEPT", ":PREROUTING ACCEPT",
                 ":POSTROUTING ACCEPT"}


def normalize_iptables(text: str) -> list[str]:
    """iptables-save without counters and without tables that hold nothing but empty built-in
    chains with policy ACCEPT: iptables-nft makes a table exist once it was touched, which is
    no change a user could notice."""
    out: list[str] = []
    table: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = [line]
        elif line == "COMMIT":
            body = [entry for entry in table[1:] if entry not in _BUILTIN_ONLY]
            if body:
                out += table + ["COMMIT"]
            table = []
        elif line.startswith(":"):
            table.append(line.rsplit(" ", 1)[0] if line.endswith("]") else line)
        elif line:
            table.append(line)
    return out


def _call(default: Any, action: Any, *args: Any) -> Any:
    try:
        return action(*args)
    except CtrnetError:  # e.g. a kernel host without the ebtables tool
        return default


def snapshot(backend: Backend, namespaces: list[str] | None = None,
             state_dir: str | None = None) -> dict[str, Any]:
    """Everything observable about `namespaces` (default: the host and every namespace)."""
    spaces = [backend.host_ns, *(namespaces if namespaces is not None else backend.netns_list())]
    world: dict[str, Any] = {"namespaces": sorted(backend.netns_list())}
    for ns in spaces:
        if ns != backend.host_ns and ns not in world["namespaces"]:
            continue
        world[f"{ns}/links"] = sorted(
            (link.name, str(link.kind), link.up, link.master, link.mtu, link.peer)
            for link in backend.link_list(ns))
        world[f"{ns}/addresses"] = sorted(a.cidr + "@" + a.ifname for a in backend.addr_list(ns))
        world[f"{ns}/routes"] = sorted((r.dst, r.dev, r.gateway) for r in backend.route_list(ns))
        world[f"{ns}/sysctls"] = [_call(None, backend.sysctl_get, ns, key) for key in SYSCTLS]
        world[f"{ns}/resolv.conf"] = _call(None, backend.etc_read, ns, "resolv.conf")
    host = backend.host_ns
    world["iptables"] = normalize_iptables(_call("", backend.iptables_save, host))
    world["ebtables"] = _call("", backend.ebtables, host, ["-L"])
    world["fdb-static"] = sorted((e.port, e.mac) for e in backend.fdb_list(host) if e.static)
    if state_dir is not None:
        files = []
        for dirpath, _dirs, names in os.walk(state_dir):
            for name in names:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, state_dir)
                # Lock files exist once taken; the IPAM round-robin cursor and its journal move
                # on with every allocation, undone or not (host-local's lastReservedIP does
                # too): none of them is something a failed operation must put back.
                if os.path.basename(rel) not in _VOLATILE_FILES:
                    with open(path, "rb") as handle:
                        files.append((rel, handle.read()))
        world["state"] = sorted(files)
    return world


@dataclass(frozen=True)
class Wan:
    """The wan namespace and the addresses on both ends of the host's uplink."""

    ns: str = WAN_NS
    ip: str = WAN_IP
    host_ip: str = HOST_WAN_IP


def uplink(backend: Backend) -> Wan:
    """A wan namespace behind a veth `uplink` of the host (198.51.100.1/24 <-> .2/24). The
    host routes to it by default; the wan has NO route back to any container subnet, so a
    container's flow returns only when it was masqueraded."""
    host = backend.host_ns
    backend.netns_add(WAN_NS)
    backend.veth_add(host, "uplink", "eth0", WAN_NS)
    backend.addr_add(host, "uplink", f"{HOST_WAN_IP}/24")
    backend.addr_add(WAN_NS, "eth0", f"{WAN_IP}/24")
    for ns, ifname in ((host, "uplink"), (host, "lo"), (WAN_NS, "eth0"), (WAN_NS, "lo")):
        backend.link_set_up(ns, ifname)
    backend.route_add(host, "default", gateway=WAN_IP)
    return Wan()
