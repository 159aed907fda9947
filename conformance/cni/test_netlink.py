"""netlink: the plugin configured links, addresses and routes without running `ip`,
`bridge` or `tc`, and what the kernel holds, read back through netlink, is what it reported."""

from __future__ import annotations

import pytest

from ctrnet.grade.launch import NETLINK_TOOLS

from .network import IFNAME, CniNetwork

pytestmark = pytest.mark.checklist("netlink")

_CHANGES = {"add", "set", "del", "delete", "replace", "change", "flush", "append"}


def test_links_addresses_and_routes_are_set_without_the_ip_tools(network: CniNetwork) -> None:
    c1 = network.add("c1")
    network.delete(c1)
    ran = [run for run in network.tool_runs() if run.tool in NETLINK_TOOLS]
    # Name a command that changed something: `ip link add …` says more than `ip link show`.
    changing = [run for run in ran if _CHANGES & set(run.argv)] or ran
    assert not ran, (
        f"the plugin ran `{changing[0]}`" + (f" and {len(ran) - 1} more ip/bridge/tc commands"
                                             if len(ran) > 1 else "")
        + ": configure through netlink instead")


def test_container_holds_the_address_and_routes_it_reported(network: CniNetwork) -> None:
    c1 = network.add("c1")
    config = c1.result.container_ip(IFNAME)
    assert config is not None
    held = [a.cidr for a in network.backend.addr_list(c1.ns, IFNAME)]
    assert str(config.address) in held, (
        f"c1: the result says {config.address} but {IFNAME} holds {', '.join(held) or 'nothing'}")
    routes = network.backend.route_list(c1.ns)
    default = [r for r in routes if r.dst == "default"]
    assert default, "c1 has no default route"
    assert default[0].gateway == network.config.gateway, (
        f"c1's default route goes via {default[0].gateway or default[0].dev}, "
        f"not the gateway {network.config.gateway}")


def test_reported_mac_is_the_containers(network: CniNetwork) -> None:
    c1 = network.add("c1")
    inside = network.backend.link_get(c1.ns, IFNAME)
    for iface in c1.result.interfaces:
        if iface.name == IFNAME and iface.sandbox and iface.mac:
            assert iface.mac.lower() == inside.mac, (
                f"c1: the result says {IFNAME} has MAC {iface.mac}, the kernel says {inside.mac}")
