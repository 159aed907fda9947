"""nat — the guide's §3: the host rewrites the source of what the containers send out
(MASQUERADE: the outgoing interface's own address, §3.1) and forwards it (`ip_forward`,
§3.2), so a container reaches the outside (here a wan namespace with no route back to the
containers' subnet) and the outside sees the host's uplink address; traffic between the
containers on the bridge keeps its source (the guide's rule has `! -o ctr0`)."""

from __future__ import annotations

import pytest

from ctrnet.errors import Unreachable
from ctrnet.types import Proto

from .network import HOST_UPLINK_CIDR, WAN_ADDRESS, WAN_NS, Blocked, CniNetwork, Finding
from .verdict import own

pytestmark = pytest.mark.checklist("nat")


def test_host_forwards_ipv4(network: CniNetwork) -> None:
    """§3.2: `echo 1 > /proc/sys/net/ipv4/ip_forward` (§6.2: the first thing to check when
    a container cannot get out)."""
    network.add("c1")
    problem = network.forwarding_problem()
    if problem:
        raise Finding(problem, ja=problem.ja)


def test_nat_table_masquerades(network: CniNetwork) -> None:
    """§3.2: `iptables -t nat -A POSTROUTING -s <subnet> ! -o <bridge> -j MASQUERADE`."""
    if network.backend.missing("iptables"):
        pytest.skip(str(network.backend.missing("iptables")))
    network.add("c1")
    problem = network.masquerade_problem()
    if problem:
        raise Finding(problem, ja=problem.ja)


def test_container_reaches_the_wan_from_the_hosts_uplink_address(network: CniNetwork) -> None:
    """§3.1–3.2: with forwarding and MASQUERADE, a container's connection to the outside
    gets through, and the outside sees the host's address, not the container's."""
    backend = network.backend
    c1 = network.add("c1")
    network.require_reaches_gateway(c1)
    network.require_default_route(c1)
    with own("nat"):
        network.require_nat()
    ip = network.ip(c1)
    try:
        reply = backend.ping(c1.ns, WAN_ADDRESS, count=2, timeout=2.0)
    except Unreachable:
        raise Finding(f"c1 ({ip}) has no route to the wan {WAN_ADDRESS}",
                      ja=f"c1 ({ip}) に wan {WAN_ADDRESS} へのルートがありません") from None
    if not reply.received:
        raise Finding(
            f"c1 ({ip}) gets no reply from the wan {WAN_ADDRESS} although forwarding is on and "
            "a MASQUERADE rule exists: does the rule match the containers' subnet?",
            ja=f"転送が有効で MASQUERADE ルールもあるのに、c1 ({ip}) に wan {WAN_ADDRESS} から"
               "応答がありません: ルールはコンテナのサブネットに一致していますか?")
    uplink_ip = HOST_UPLINK_CIDR.split("/")[0]
    with backend.listen(WAN_NS, Proto.TCP, 8080) as listener:
        outcome = backend.connect(c1.ns, Proto.TCP, WAN_ADDRESS, 8080, timeout=2.0)
        if not outcome.ok:
            raise Finding(f"c1 ({ip}) cannot open TCP to the wan: {outcome.outcome.value}",
                          ja=f"c1 ({ip}) から wan への TCP 接続ができません: "
                             f"{outcome.outcome.value}")
        seen = [peer.ip for peer in listener.peers()]
    if not seen or any(s != uplink_ip for s in seen):
        raise Finding(f"the wan saw c1's connection from {', '.join(seen) or 'nowhere'}, "
                      f"expected the uplink address {uplink_ip}",
                      ja=f"wan から見た c1 の接続元は {', '.join(seen) or 'なし'} でした: "
                         f"アップリンクのアドレス {uplink_ip} のはずです（IP マスカレード）")


def test_containers_see_each_others_own_addresses(network: CniNetwork) -> None:
    """§3.2: the guide's rule masquerades only what leaves through another interface than
    the bridge (`! -o ctr0`): between two containers the source stays the container's."""
    backend = network.backend
    c1, c2 = network.add("c1"), network.add("c2")
    network.require_reaches_gateway(c1)
    network.require_reaches_gateway(c2)
    ip1, ip2 = network.ip(c1), network.ip(c2)
    with backend.listen(c2.ns, Proto.TCP, 8081) as listener:
        outcome = backend.connect(c1.ns, Proto.TCP, ip2, 8081, timeout=2.0)
        if not outcome.ok:
            raise Blocked("bridge", f"c1 ({ip1}) cannot open TCP to c2 ({ip2}) across the bridge",
                          ja=f"c1 ({ip1}) からブリッジ越しに c2 ({ip2}) へ TCP 接続できません")
        seen = [peer.ip for peer in listener.peers()]
    if seen != [ip1]:
        raise Finding(
            f"c2 saw c1's connection from {', '.join(seen) or 'nowhere'}, not from c1's own "
            f"{ip1}: traffic between containers was masqueraded (the rule lacks `! -o <bridge>`)",
            ja=f"c2 から見た c1 の接続元は c1 自身の {ip1} ではなく "
               f"{', '.join(seen) or 'なし'} でした: コンテナ間の通信まで IP マスカレードされて"
               "います（ルールに `! -o <bridge>` がありません）")


def test_del_leaves_no_rule_naming_the_container(network: CniNetwork) -> None:
    """§3.2: rules a plugin adds for a container go when the container goes."""
    if network.backend.missing("iptables"):
        pytest.skip(str(network.backend.missing("iptables")))
    c1 = network.add("c1")
    ip = network.ip(c1)
    network.delete(c1)
    rules = network.backend.iptables_save(network.backend.host_ns)
    naming = [line for line in rules.splitlines()
              if f" {ip}/32 " in f"{line} " or f" {ip} " in f"{line} "]
    if naming:
        raise Finding(f"after DEL of c1 a rule still names {ip}: {naming[0].strip()}",
                      ja=f"c1 の DEL の後も {ip} を含むルールが残っています: "
                         f"{naming[0].strip()}")
