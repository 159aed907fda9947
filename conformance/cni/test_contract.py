"""The CNI contract — what a container runtime expects of a plugin beyond what the guide
teaches (the guide never mentions CNI's commands, its result or its config keys), so these
are extras: reported, never failing a checklist item. ADD attaches; its result follows the
CNI 1.0 format and tells the truth; the interface is named CNI_IFNAME; CHECK after ADD
succeeds; DEL is idempotent, survives a vanished namespace, leaves the runtime's namespace;
an empty pool fails with an error result; the network's `mtu` is honoured."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ctrnet.grade.cni import PluginFailed, parse_error

from .network import CNI, IFNAME, TINY, Blocked, CniNetwork, Finding, add_quietly

pytestmark = pytest.mark.topic(CNI)


def test_add_attaches_a_container(network: CniNetwork) -> None:
    """ADD of a fresh container succeeds (every other check stands on it)."""
    network.attach("c1")


def test_result_follows_the_cni_1_0_format(network: CniNetwork) -> None:
    """SPEC §5.1: cniVersion, interfaces, ips (address/prefix, interface index), routes."""
    c1 = network.add("c1")
    if c1.result.problems:
        raise Finding("; ".join(c1.result.problems), ja="; ".join(c1.result.problems_ja))


def test_container_interface_is_named_cni_ifname(network: CniNetwork) -> None:
    """CNI_IFNAME names the interface the runtime expects in the container."""
    c1 = network.add("c1")
    inside = network.interface(c1)
    assert inside.name == IFNAME, (
        f"c1: the container's interface is {inside.name}, not CNI_IFNAME {IFNAME}")


def test_result_tells_the_address_and_mac_the_container_holds(network: CniNetwork) -> None:
    """The result's container interface (with its sandbox), address and MAC are the kernel's."""
    c1 = network.add("c1")
    inside = network.interface(c1)
    listed = [i for i in c1.result.interfaces if i.name == inside.name and i.sandbox]
    assert listed, f"the result lists no interface {inside.name} with its sandbox (netns path)"
    if listed[0].mac:
        assert listed[0].mac.lower() == inside.mac, (
            f"c1: the result says {inside.name} has MAC {listed[0].mac}, the kernel says "
            f"{inside.mac}")
    config = c1.result.container_ip(inside.name)
    held = [str(a) for a in network.held_addresses(c1)]
    assert config is not None and str(config.address) in held, (
        f"c1: the result says {config.address if config else 'no address'} but "
        f"{inside.name} holds {', '.join(held) or 'nothing'}")


def test_check_succeeds_after_add(network: CniNetwork) -> None:
    """CHECK with the ADD's result as prevResult succeeds while nothing changed."""
    c1 = network.add("c1")
    network.plugin.check(c1.container_id, c1.ns, c1.result, IFNAME)


def test_del_of_a_container_never_added_succeeds(network: CniNetwork) -> None:
    """DEL of what does not exist succeeds (a runtime retries DEL freely)."""
    network.backend.netns_add("c9")
    network.plugin.delete("c9", "c9", IFNAME)


def test_second_del_succeeds_and_keeps_the_runtimes_namespace(network: CniNetwork) -> None:
    """DEL twice succeeds; the namespace belongs to the runtime and outlives DEL."""
    c1 = network.add("c1")
    network.plugin.delete(c1.container_id, c1.ns, IFNAME, c1.result)
    assert c1.ns in network.backend.netns_list(), "DEL removed the container's namespace"
    network.plugin.delete(c1.container_id, c1.ns, IFNAME, c1.result)
    c1.deleted = True


def test_del_succeeds_when_the_namespace_is_gone(network: CniNetwork) -> None:
    """DEL after the runtime removed the namespace succeeds and releases what it held."""
    c1 = network.add("c1")
    path = network.launcher.netns_path(c1.ns)
    network.backend.netns_delete(c1.ns)
    network.plugin.delete(c1.container_id, None, IFNAME, c1.result, netns_path=path)
    c1.deleted = True


def test_empty_pool_fails_with_a_cni_error_result(
        make_network: Callable[[dict[str, str]], CniNetwork]) -> None:
    """SPEC §5.2: a failing ADD prints an error result (code, msg) and exits non-zero."""
    tiny = make_network(TINY)  # one address to hand out
    tiny.require_good_address(tiny.add("c1"))
    refused = add_quietly(tiny, "c2")
    if not isinstance(refused, str):
        raise Blocked("ipam", "a second ADD to a pool of one address succeeded",
                      ja="アドレスが一つだけのプールへの二つ目の ADD が成功しました")
    call = tiny.plugin.calls[-1]
    assert parse_error(call.stdout) is not None, (
        f"the failed ADD printed no error result: {refused}")


def test_mtu_of_the_network_is_set_on_both_ends(
        make_network: Callable[[dict[str, str]], CniNetwork]) -> None:
    """CNI's bridge plugin reads `mtu` from the network config (the guide has no MTU)."""
    net = make_network({**TINY, "mtu": "1400"})
    c1 = net.add("c1")
    inside, outside = net.interface(c1), net.host_end(c1)
    assert (inside.mtu, outside.mtu) == (1400, 1400), (
        f"the network's mtu is 1400; {inside.name} has {inside.mtu}, host end {outside.name} "
        f"has {outside.mtu}")


@pytest.mark.topic("rollback")
def test_failed_add_then_del_leaves_nothing_behind(
        make_network: Callable[[dict[str, str]], CniNetwork]) -> None:
    """§8.1 (rollback, an extra): what a failed ADD built is gone after the runtime's DEL."""
    tiny = make_network(TINY)
    tiny.require_good_address(tiny.add("c1"))
    veths_before = tiny.veths_in_host()
    if not isinstance(add_quietly(tiny, "c2"), str):
        pytest.skip("the second ADD to a pool of one address succeeded (see ipam)")
    try:
        tiny.plugin.delete("c2", "c2", IFNAME)
    except PluginFailed as exc:
        raise Blocked(CNI, str(exc), ja=exc.in_lang("ja")) from None
    left = [link.name for link in tiny.links("c2") if link.name != "lo"]
    assert not left, f"after the failed ADD of c2 and its DEL, {left[0]} is still in c2"
    assert tiny.veths_in_host() == veths_before, (
        "after the failed ADD of c2 and its DEL, a veth of c2 is still in the host")
