"""bridge — the guide's §2: a Linux bridge is a software switch joining the host ends of the
veth pairs; it is created, brought up, given the gateway address, and each host end is
enslaved to it (§2.2); it learns which MAC is behind which port (§2.1, `bridge fdb show`);
with STP on it does not forward at first (§6.2)."""

from __future__ import annotations

import pytest

from .network import CniNetwork, Finding
from .verdict import own

pytestmark = pytest.mark.checklist("bridge")


def test_configured_bridge_is_up_and_holds_the_gateway(network: CniNetwork) -> None:
    """§2.2: `ip link add … type bridge`, `ip link set … up`, `ip addr add <gateway>`."""
    network.add("c1")
    with own("bridge"):
        network.require_bridge()


def test_host_end_is_a_forwarding_port_of_the_bridge(network: CniNetwork) -> None:
    """§2.2 (`ip link set veth0 master ctr0`) and §6.2 (a bridge with STP on holds its
    ports back): the host end is a port of the bridge, forwarding."""
    c1 = network.add("c1")
    with own("bridge"):
        network.require_port(c1)


def test_container_reaches_the_gateway(network: CniNetwork) -> None:
    """§2.1: the bridge switches the container's frames to the gateway address it holds."""
    c1 = network.add("c1")
    with own("bridge"):
        network.require_reaches_gateway(c1)


def test_containers_reach_each_other_and_the_bridge_learns_their_macs(
        network: CniNetwork) -> None:
    """§2.1: containers on one bridge talk to each other through it, and its MAC table
    (§2.2 `bridge fdb show`) learns each container's MAC behind that container's port."""
    c1, c2 = network.add("c1"), network.add("c2")
    with own("bridge"):
        network.require_reaches_gateway(c1)
        network.require_reaches_gateway(c2)
    ip1, ip2 = network.ip(c1), network.ip(c2)
    reply = network.backend.ping(c1.ns, ip2, count=2, timeout=2.0)
    if not reply.received:
        raise Finding(f"c1 ({ip1}) gets no reply from c2 ({ip2}) across the bridge",
                      ja=f"c1 ({ip1}) にブリッジ越しの c2 ({ip2}) から応答がありません")
    learned = {(e.mac, e.port) for e in network.backend.fdb_list(
        network.backend.host_ns, network.config.bridge) if not e.local}
    for attachment in (c1, c2):
        mac = network.interface(attachment).mac
        port = network.host_end(attachment).name
        if (mac, port) not in learned:
            bridge, who = network.config.bridge, attachment.container_id
            raise Finding(f"bridge {bridge} has not learned {who}'s MAC {mac} behind its port "
                          f"{port}",
                          ja=f"ブリッジ {bridge} が {who} の MAC {mac} をポート {port} の先に"
                             "学習していません")
