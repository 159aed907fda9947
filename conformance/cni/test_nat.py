"""nat: the host forwards and masquerades what leaves the containers' subnet, so a container
reaches the wan (which has no route back to the subnet) and the wan sees the host's uplink
address; DEL leaves no rule naming the container."""

from __future__ import annotations

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import Unreachable
from ctrnet.types import Proto

from .network import HOST_UPLINK_CIDR, WAN_ADDRESS, WAN_NS, CniNetwork

pytestmark = pytest.mark.checklist("nat")


def _save(backend: Backend, table: str | None = None) -> str:
    save = getattr(backend, "iptables_save", None)
    if save is None:
        pytest.skip(f"backend {backend.name!r} cannot read iptables rules yet")
    text: str = save(backend.host_ns, table=table)
    return text


def test_host_forwards_ipv4(network: CniNetwork) -> None:
    network.add("c1")
    value = network.backend.sysctl_get(network.backend.host_ns, "net.ipv4.ip_forward")
    assert value == "1", f"net.ipv4.ip_forward is {value} in the host: it will not forward"


def test_nat_table_masquerades(network: CniNetwork) -> None:
    network.add("c1")
    rules = _save(network.backend, "nat")
    assert "-j MASQUERADE" in rules or "-j SNAT" in rules, (
        "the nat table has no MASQUERADE (or SNAT) rule for the containers' traffic")


def test_container_reaches_the_wan(network: CniNetwork) -> None:
    c1 = network.add("c1")
    try:
        reply = network.backend.ping(c1.ns, WAN_ADDRESS, count=2, timeout=2.0)
    except Unreachable:
        pytest.fail(f"c1 ({c1.ip}) has no route to the wan {WAN_ADDRESS}: no default route")
    assert reply.received, (
        f"c1 ({c1.ip}) gets no reply from the wan {WAN_ADDRESS}: the wan has no route back to "
        f"{network.subnet}, so the source must be masqueraded")


def test_wan_sees_the_hosts_uplink_address(network: CniNetwork) -> None:
    backend = network.backend
    if not hasattr(backend, "listen"):
        pytest.skip(f"backend {backend.name!r} has no TCP probes yet")
    c1 = network.add("c1")
    uplink_ip = HOST_UPLINK_CIDR.split("/")[0]
    with backend.listen(WAN_NS, Proto.TCP, 8080) as listener:
        outcome = backend.connect(c1.ns, Proto.TCP, WAN_ADDRESS, 8080, timeout=2.0)
        assert outcome.ok, f"c1 ({c1.ip}) cannot open TCP to the wan: {outcome.outcome.value}"
        seen = [peer.ip for peer in listener.peers()]
    assert seen and all(ip == uplink_ip for ip in seen), (
        f"the wan saw c1's connection from {', '.join(seen) or 'nowhere'}, "
        f"expected the uplink address {uplink_ip}")


def test_del_leaves_no_rule_naming_the_container(network: CniNetwork) -> None:
    c1 = network.add("c1")
    network.delete(c1)
    rules = _save(network.backend)
    naming = [line for line in rules.splitlines()
              if f" {c1.ip}/32 " in f"{line} " or f" {c1.ip} " in f"{line} "]
    assert not naming, f"after DEL of c1 a rule still names {c1.ip}: {naming[0].strip()}"
