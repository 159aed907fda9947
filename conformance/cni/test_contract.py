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
    if inside.name != IFNAME:
        raise Finding(f"c1: the container's interface is {inside.name}, not CNI_IFNAME {IFNAME}",
                      ja=f"c1: コンテナのインターフェースが CNI_IFNAME の {IFNAME} ではなく "
                         f"{inside.name} です")


def test_result_tells_the_address_and_mac_the_container_holds(network: CniNetwork) -> None:
    """The result's container interface (with its sandbox), address and MAC are the kernel's."""
    c1 = network.add("c1")
    inside = network.interface(c1)
    listed = [i for i in c1.result.interfaces if i.name == inside.name and i.sandbox]
    if not listed:
        raise Finding(f"the result lists no interface {inside.name} with its sandbox "
                      "(netns path)",
                      ja=f"結果に sandbox（名前空間のパス）付きのインターフェース {inside.name} が"
                         "ありません")
    if listed[0].mac and listed[0].mac.lower() != inside.mac:
        raise Finding(f"c1: the result says {inside.name} has MAC {listed[0].mac}, the kernel "
                      f"says {inside.mac}",
                      ja=f"c1: 結果では {inside.name} の MAC は {listed[0].mac} ですが、"
                         f"カーネルでは {inside.mac} です")
    config = c1.result.container_ip(inside.name)
    held = [str(a) for a in network.held_addresses(c1)]
    if config is None or str(config.address) not in held:
        said = str(config.address) if config else ""
        raise Finding(f"c1: the result says {said or 'no address'} but "
                      f"{inside.name} holds {', '.join(held) or 'nothing'}",
                      ja=f"c1: 結果のアドレスは {said or 'なし'} ですが、{inside.name} が持つのは "
                         f"{', '.join(held) or 'なし'} です")


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
    if c1.ns not in network.backend.netns_list():
        raise Finding("DEL removed the container's namespace",
                      ja="DEL がコンテナの名前空間を消しました（名前空間はランタイムのものです）")
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
    if parse_error(call.stdout) is None:
        raise Finding(f"the failed ADD printed no error result: {refused}",
                      ja=f"失敗した ADD がエラー結果を出力しませんでした: {refused}")


def test_mtu_of_the_network_is_set_on_both_ends(
        make_network: Callable[[dict[str, str]], CniNetwork]) -> None:
    """CNI's bridge plugin reads `mtu` from the network config (the guide has no MTU)."""
    net = make_network({**TINY, "mtu": "1400"})
    c1 = net.add("c1")
    inside, outside = net.interface(c1), net.host_end(c1)
    if (inside.mtu, outside.mtu) != (1400, 1400):
        raise Finding(f"the network's mtu is 1400; {inside.name} has {inside.mtu}, host end "
                      f"{outside.name} has {outside.mtu}",
                      ja=f"ネットワークの mtu は 1400 ですが、{inside.name} は {inside.mtu}、"
                         f"ホスト側の端 {outside.name} は {outside.mtu} です")


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
    if left:
        raise Finding(f"after the failed ADD of c2 and its DEL, {left[0]} is still in c2",
                      ja=f"c2 の ADD が失敗し DEL した後も、c2 の中に {left[0]} が残っています")
    if tiny.veths_in_host() != veths_before:
        raise Finding("after the failed ADD of c2 and its DEL, a veth of c2 is still in the host",
                      ja="c2 の ADD が失敗し DEL した後も、ホストに c2 の veth が残っています")
