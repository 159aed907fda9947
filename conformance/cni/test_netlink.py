"""netlink — the guide's §5: links, addresses and routes are configured through netlink (a
library such as vishvananda/netlink or pyroute2), not by running `ip`; §5.2's own example is
the container's default route via the gateway. Judged on what the plugin ran and on the
routes it set; whether the plugin's printed result matches the kernel is CNI's business
(extras)."""

from __future__ import annotations

import pytest

from ctrnet.grade.launch import NETLINK_TOOLS

from .network import CniNetwork, Finding
from .verdict import own

pytestmark = pytest.mark.checklist("netlink")

_CHANGES = {"add", "set", "del", "delete", "replace", "change", "flush", "append"}


def test_default_route_goes_via_the_gateway(network: CniNetwork) -> None:
    """§5.2 ("add the default route", `Gw: 172.20.0.1`): inside the container, the default
    route goes via the network's gateway."""
    c1 = network.add("c1")
    network.interface(c1)
    with own("netlink"):
        network.require_default_route(c1)


def test_links_addresses_and_routes_are_set_without_the_ip_tools(network: CniNetwork) -> None:
    """§5.1: netlink is how a program talks to the kernel's network configuration; the
    plugin creates links, sets addresses and adds routes through it, never through `ip`,
    `bridge` or `tc`."""
    c1 = network.add("c1")
    network.delete(c1)
    ran = [run for run in network.tool_runs() if run.tool in NETLINK_TOOLS]
    # Name a command that changed something: `ip link add …` says more than `ip link show`.
    changing = [run for run in ran if _CHANGES & set(run.argv)] or ran
    if ran:
        more = len(ran) - 1
        raise Finding(
            f"the plugin ran `{changing[0]}`" + (f" and {more} more ip/bridge/tc commands"
                                                 if more else "")
            + ": configure through netlink instead",
            ja=f"プラグインが `{changing[0]}` を実行しました"
               + (f"（ほかに ip/bridge/tc コマンドが {more} 回）" if more else "")
               + ": netlink で設定してください")
