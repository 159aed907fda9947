"""`ctrnet topology` and the doctor's reading of iptables-save: the picture of a Docker-like
host (conformance.backend.topology.nat_topology) as a tree and as a Graphviz graph."""

from __future__ import annotations

import shutil

import pytest

from ctrnet.backend import Backend
from ctrnet.conformance.backend.topology import nat_topology
from ctrnet.troubleshoot import topology
from ctrnet.troubleshoot.doctor import in_ns
from ctrnet.troubleshoot.rulescan import scan

pytestmark = pytest.mark.requires("iptables")

PUBLISH = ("*nat\n-N PUBLISH\n-A PREROUTING -j PUBLISH\n"
           "-A PUBLISH -p tcp --dport 8080 -j DNAT --to-destination 172.20.0.2:80\nCOMMIT\n")


@pytest.fixture
def world(backend: Backend) -> Backend:
    nat_topology(backend)
    backend.iptables_restore(backend.host_ns, PUBLISH)
    return backend


def test_tree_puts_ports_under_their_bridge_and_names_veth_peers(world: Backend) -> None:
    text = topology.text(topology.collect(world))
    lines = text.splitlines()
    bridge = next(i for i, line in enumerate(lines)
                  if line.endswith("── br0 (bridge, up) 172.20.0.1/24"))
    assert lines[bridge + 1].endswith("veth1 (veth, up) <-> c1/eth0")
    assert "    published: tcp 8080 -> 172.20.0.2:80" in lines
    assert "└── eth0 (veth, up) 198.51.100.2/24 <-> host/uplink" in lines


def test_dot_links_ports_to_bridges_and_veth_ends_to_each_other(world: Backend) -> None:
    dot = topology.dot(topology.collect(world))
    assert dot.startswith("graph ctrnet {") and dot.rstrip().endswith("}")
    assert '"host/veth1" -- "host/br0" [penwidth=2];' in dot
    assert '"host/veth1" -- "c1/eth0" [style=dashed, label="veth"];' in dot
    assert 'label="DNAT 172.20.0.2:80"' in dot
    assert dot.count('-- "c1/eth0" [style=dashed') + dot.count('"c1/eth0" -- "host/veth1"') == 1


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_is_rendered_by_graphviz(world: Backend) -> None:
    svg = topology.svg(topology.dot(topology.collect(world)))
    assert svg.lstrip().startswith(b"<?xml") and b"</svg>" in svg


def test_rulescan_follows_jumps_from_a_hook() -> None:
    ruleset = scan(":POSTROUTING ACCEPT [0:0]\n:MINE - [0:0]\n:UNUSED - [0:0]\n"
                   "-A POSTROUTING -j MINE\n-A MINE -s 10.0.0.0/24 ! -o br0 -j MASQUERADE\n"
                   "-A UNUSED -j MASQUERADE\n")
    reached = ruleset.reachable("POSTROUTING")
    assert [r.chain for r in reached] == ["POSTROUTING", "MINE"]
    assert reached[1].option("-s") == "10.0.0.0/24" and reached[1].negated("-o")


def test_fix_commands_are_written_for_the_hosts_shell() -> None:
    assert in_ns("host", "host", "ip link set br0 up") == "ip link set br0 up"
    assert in_ns("host", "c1", "ip link set lo up") == "ip -n c1 link set lo up"
    assert in_ns("host", "c1", "sysctl -w x=1") == "ip netns exec c1 sysctl -w x=1"
