"""Shared topologies of the netfilter conformance tests, built through the Backend protocol.

`nat_topology`: the host namespace routes between a container bridge and a "wan" — the
layout of a Docker host. br0 (172.20.0.1/24) with containers c1 (.2) and c2 (.3) on it, their
default route via br0; a veth "uplink" (198.51.100.1/24) to the wan namespace (eth0,
198.51.100.2/24), which has NO route back to 172.20.0.0/24, so only NAT can make a container's
flow come back. The host forwards (ip_forward 1) unless asked not to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctrnet.backend import Backend

BRIDGE = "br0"
UPLINK = "uplink"
SUBNET = "172.20.0.0/24"
GATEWAY = "172.20.0.1"
HOST_WAN_IP = "198.51.100.1"
WAN_IP = "198.51.100.2"
WAN_NS = "wan"


@dataclass(frozen=True)
class Container:
    ns: str
    ip: str
    port: str  # its veth's host end, a port of br0


@dataclass(frozen=True)
class NatTopology:
    host: str
    c1: Container
    c2: Container
    wan: str = WAN_NS


def nat_topology(backend: Backend, *, ip_forward: bool = True) -> NatTopology:
    host = backend.host_ns
    backend.link_set_up(host, "lo")
    backend.bridge_add(host, BRIDGE)
    backend.addr_add(host, BRIDGE, f"{GATEWAY}/24")
    backend.link_set_up(host, BRIDGE)
    containers = []
    for number in (1, 2):
        container = Container(ns=f"c{number}", ip=f"172.20.0.{number + 1}", port=f"veth{number}")
        backend.netns_add(container.ns)
        backend.veth_add(host, container.port, "eth0", container.ns)
        backend.link_set_master(host, container.port, BRIDGE)
        backend.link_set_up(host, container.port)
        backend.addr_add(container.ns, "eth0", f"{container.ip}/24")
        backend.link_set_up(container.ns, "eth0")
        backend.link_set_up(container.ns, "lo")
        backend.route_add(container.ns, "default", gateway=GATEWAY)
        containers.append(container)
    backend.netns_add(WAN_NS)
    backend.veth_add(host, UPLINK, "eth0", WAN_NS)
    backend.addr_add(host, UPLINK, f"{HOST_WAN_IP}/24")
    backend.addr_add(WAN_NS, "eth0", f"{WAN_IP}/24")
    for ns, ifname in ((host, UPLINK), (WAN_NS, "eth0"), (WAN_NS, "lo")):
        backend.link_set_up(ns, ifname)
    backend.sysctl_set(host, "net.ipv4.ip_forward", "1" if ip_forward else "0")
    return NatTopology(host=host, c1=containers[0], c2=containers[1])


def point_to_point(backend: Backend, peer: str = "peer") -> tuple[str, str]:
    """The host namespace (10.30.0.1/24 on `to-peer`) and `peer` (10.30.0.2/24 on eth0),
    joined by a veth; returns (host address, peer address)."""
    host = backend.host_ns
    backend.netns_add(peer)
    backend.veth_add(host, "to-peer", "eth0", peer)
    backend.addr_add(host, "to-peer", "10.30.0.1/24")
    backend.addr_add(peer, "eth0", "10.30.0.2/24")
    for ns, ifname in ((host, "to-peer"), (host, "lo"), (peer, "eth0"), (peer, "lo")):
        backend.link_set_up(ns, ifname)
    return "10.30.0.1", "10.30.0.2"


_COUNTED = re.compile(r"^\[(\d+):(\d+)\] (.*)$")


def rule_packets(backend: Backend, ns: str, table: str, rule: str) -> int:
    """Packets counted on the rule saved as `rule` (its iptables-save line, without
    counters), read with `iptables-save -c`."""
    for line in backend.iptables_save(ns, table=table, counters=True).splitlines():
        found = _COUNTED.match(line)
        if found and found.group(3) == rule:
            return int(found.group(1))
    raise AssertionError(f"no rule {rule!r} in table {table} of namespace {ns}")
