"""`ctrnet doctor` on a Docker-like host (conformance.backend.topology.nat_topology, made
healthy: MASQUERADE, a default route to the wan, resolv.conf for the containers): a clean
bill first, then each usual mistake made on purpose and named by the doctor.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ctrnet.conformance.backend.topology import (
    BRIDGE,
    GATEWAY,
    SUBNET,
    UPLINK,
    WAN_IP,
    NatTopology,
    nat_topology,
)

from ctrnet.backend import Backend
from ctrnet.troubleshoot.doctor import Container, Net, Report, diagnose

pytestmark = pytest.mark.requires("iptables")

MASQUERADE = f"-A POSTROUTING -s {SUBNET} ! -o {BRIDGE} -j MASQUERADE"


def healthy(backend: Backend) -> NatTopology:
    topo = nat_topology(backend)
    backend.iptables_restore(topo.host, f"*nat\n{MASQUERADE}\nCOMMIT\n")
    backend.route_add(topo.host, "default", gateway=WAN_IP)
    write = getattr(backend, "etc_write", None)
    if write is not None:
        for c in (topo.c1, topo.c2):
            write(c.ns, "resolv.conf", "nameserver 198.51.100.53\n")
    return topo


def network(topo: NatTopology) -> Net:
    return Net("web", BRIDGE, SUBNET, GATEWAY, True, tuple(
        Container(c.ns, "eth0", c.port, c.ip) for c in (topo.c1, topo.c2)))


def examine(backend: Backend, topo: NatTopology) -> Report:
    return diagnose(backend, [network(topo)])


def test_a_healthy_network_gets_a_clean_bill(backend: Backend) -> None:
    topo = healthy(backend)
    report = examine(backend, topo)
    assert report.findings == []
    assert len(report.checks) >= 11


def test_discovery_finds_the_bridge_and_its_containers(backend: Backend) -> None:
    topo = healthy(backend)
    assert diagnose(backend).healthy
    report = diagnose(backend)
    assert report.scope == "all networks"
    backend.link_set_up(topo.c2.ns, "eth0", False)
    assert [f.check for f in diagnose(backend).findings] == ["veth-down"]


def _stp_listening(backend: Backend, topo: NatTopology) -> None:
    backend.bridge_set(topo.host, BRIDGE, stp_state=1)
    backend.link_set_up(topo.host, topo.c1.port, False)
    backend.link_set_up(topo.host, topo.c1.port)  # re-enabled: LISTENING for forward_delay


def _forward_drop(backend: Backend, topo: NatTopology) -> None:
    backend.sysctl_set(topo.host, "net.bridge.bridge-nf-call-iptables", "1")
    backend.iptables_restore(topo.host, "*filter\n:FORWARD DROP [0:0]\nCOMMIT\n")


def _wrong_masquerade(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, "*nat\n-F POSTROUTING\n"
                             f"-A POSTROUTING -s 10.9.0.0/24 -o {UPLINK} -j MASQUERADE\n"
                             "COMMIT\n")


def _no_resolv_conf(backend: Backend, topo: NatTopology) -> None:
    delete = getattr(backend, "etc_delete", None)
    if delete is None:
        pytest.skip("the backend keeps no /etc/netns files")
    delete(topo.c1.ns, "resolv.conf")


def _wrong_gateway(backend: Backend, topo: NatTopology) -> None:
    backend.route_delete(topo.c1.ns, "default", gateway=GATEWAY)
    backend.route_add(topo.c1.ns, "default", gateway="172.20.0.254")


Breakage = Callable[[Backend, NatTopology], None]
BREAKAGES: dict[str, tuple[Breakage, str, str]] = {
    "ip_forward off": (lambda b, t: b.sysctl_set(t.host, "net.ipv4.ip_forward", "0"),
                       "ip-forward-off", "sysctl -w net.ipv4.ip_forward=1"),
    "masquerade missing": (lambda b, t: b.iptables_restore(t.host, "*nat\n-F POSTROUTING\n"
                                                           "COMMIT\n"),
                           "masquerade-missing", "-j MASQUERADE"),
    "masquerade for another subnet": (_wrong_masquerade, "masquerade-mismatch",
                                      f"-s {SUBNET}"),
    "resolv.conf missing": (_no_resolv_conf, "resolv-conf-missing", "resolv.conf"),
    "container end in the host": (lambda b, t: b.link_set_netns(t.c1.ns, "eth0", t.host),
                                  "veth-wrong-namespace", "netns c1"),
    "host end not enslaved": (lambda b, t: b.link_set_master(t.host, t.c1.port, None),
                              "veth-not-enslaved", f"master {BRIDGE}"),
    "container end down": (lambda b, t: b.link_set_up(t.c1.ns, "eth0", False),
                           "veth-down", "ip -n c1 link set eth0 up"),
    "host end down": (lambda b, t: b.link_set_up(t.host, t.c1.port, False),
                      "veth-down", f"ip link set {'veth1'} up"),
    "bridge down": (lambda b, t: b.link_set_up(t.host, BRIDGE, False),
                    "bridge-down", f"ip link set {BRIDGE} up"),
    "stp ports listening": (_stp_listening, "stp-ports-not-forwarding", "stp_state 0"),
    "forward drop with br_netfilter": (_forward_drop, "forward-drop-br-netfilter",
                                       f"-i {BRIDGE} -o {BRIDGE} -j ACCEPT"),
    "no default route": (lambda b, t: b.route_delete(t.c1.ns, "default", gateway=GATEWAY),
                         "no-default-route", f"ip -n c1 route add default via {GATEWAY}"),
    "address conflict": (lambda b, t: b.addr_add(t.c2.ns, "eth0", f"{t.c1.ip}/24"),
                         "address-conflict", "ip -n c2 addr del 172.20.0.2/24 dev eth0"),
    "lo down": (lambda b, t: b.link_set_up(t.c1.ns, "lo", False), "lo-down",
                "ip -n c1 link set lo up"),
    "no address": (lambda b, t: b.addr_delete(t.c1.ns, "eth0", f"{t.c1.ip}/24"), "no-address",
                   "ip -n c1 addr add 172.20.0.2/24 dev eth0"),
    "wrong gateway": (_wrong_gateway, "wrong-gateway",
                      f"ip -n c1 route replace default via {GATEWAY}"),
    "mtu mismatch": (lambda b, t: b.link_set_mtu(t.c1.ns, "eth0", 9000), "mtu-mismatch",
                     "ip -n c1 link set eth0 mtu 1500"),
}


@pytest.mark.parametrize("mistake", sorted(BREAKAGES))
def test_doctor_names_the_mistake_and_its_fix(backend: Backend, mistake: str) -> None:
    topo = healthy(backend)
    breakage, check, fix = BREAKAGES[mistake]
    breakage(backend, topo)
    report = examine(backend, topo)
    named = report.named(check)
    assert named, f"{check} not found; found {[f.check for f in report.findings]}"
    assert any(fix in finding.fix for finding in named), [f.fix for f in named]
    assert not report.healthy
