"""netns — the guide's §1.1: a network namespace is a network stack of its own (interfaces,
routing table, iptables rules), so the container's side of the network must be configured
inside the namespace the runtime names (CNI_NETNS), and the host's own stack left as it was.
Keeping the runtime's namespace on DEL, and DEL after it is gone, are CNI's contract: extras.
"""

from __future__ import annotations

import pytest

from .network import WAN_ADDRESS, CniNetwork, Finding
from .verdict import own

pytestmark = pytest.mark.checklist("netns")


def test_container_interface_and_address_are_inside_its_namespace(network: CniNetwork) -> None:
    """§1.1 (and §6.2, "veth not found: wrong namespace"): the container's interface and its
    address live in the container's namespace, not in the host's."""
    c1 = network.add("c1")
    with own("netns"):
        address = network.address(c1)
    if str(address.ip) == network.config.gateway:  # on the bridge too: IPAM's mistake
        network.require_good_address(c1)
    on_host = [a for a in network.backend.addr_list(network.backend.host_ns)
               if a.ip == str(address.ip)]
    if on_host:
        raise Finding(f"c1's address {address.ip} is also on the host's {on_host[0].ifname}",
                      ja=f"c1 のアドレス {address.ip} がホストの {on_host[0].ifname} にも"
                         "付いています")


def test_host_routing_table_keeps_its_own_default_route(network: CniNetwork) -> None:
    """§1.1: the host and the container have routing tables of their own; the container's
    default route belongs in the container's table, the host keeps its route to the wan."""
    network.add("c1")
    default = [r for r in network.backend.route_list(network.backend.host_ns)
               if r.dst in ("default", "0.0.0.0/0")]
    if [r.gateway for r in default] != [WAN_ADDRESS]:
        now = ", ".join(str(r.gateway or r.dev) for r in default)
        raise Finding(
            f"the host's default route changed to {now or 'nothing'} (expected via "
            f"{WAN_ADDRESS}): a route meant for the container was set in the host's namespace",
            ja=f"ホストのデフォルトルートが {now or 'なし'} に変わりました（{WAN_ADDRESS} 経由の"
               "はずです）: コンテナ用のルートがホストの名前空間に設定されました")
