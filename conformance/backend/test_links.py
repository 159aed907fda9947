"""Links: veth pairs and their operstates, deletion, moving between namespaces, rename, MTU,
MAC, bridges' attributes and ports, and the names the kernel accepts. Pinned on Linux 6.x."""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import AlreadyExists, BackendError, InvalidArgument, NotFound
from ctrnet.types import BridgeInfo, LinkKind, OperState, PortState


@pytest.fixture
def c1(backend: Backend) -> str:
    backend.netns_add("c1")
    return "c1"


def names(backend: Backend, ns: str) -> list[str]:
    return [link.name for link in backend.link_list(ns)]


# -- veth pairs ---------------------------------------------------------------------------


def test_a_veth_pair_is_created_down_and_names_its_peer(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    eth0, eth1 = backend.link_get(c1, "eth0"), backend.link_get(c1, "eth1")
    assert (eth0.kind, eth0.up, eth0.operstate, eth0.carrier) == (
        LinkKind.VETH, False, OperState.DOWN, False)
    assert (eth0.peer, eth0.peer_ns) == ("eth1", c1)
    assert (eth1.peer, eth1.peer_ns) == ("eth0", c1)
    assert eth0.mtu == 1500
    assert eth0.mac != eth1.mac


def test_links_are_listed_by_index(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "b", "a")
    backend.bridge_add(c1, "br0")
    listed = backend.link_list(c1)
    assert [link.index for link in listed] == sorted(link.index for link in listed)
    assert listed[0].name == "lo"
    assert {link.name for link in listed} == {"lo", "a", "b", "br0"}


def test_veth_is_lowerlayerdown_while_peer_is_down(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_set_up(c1, "eth0")
    eth0 = backend.link_get(c1, "eth0")
    assert (eth0.up, eth0.operstate, eth0.carrier) == (True, OperState.LOWERLAYERDOWN, False)
    assert backend.link_get(c1, "eth1").operstate is OperState.DOWN


def test_veth_is_up_with_carrier_once_both_ends_are_up(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_set_up(c1, "eth0")
    backend.link_set_up(c1, "eth1")
    for end in ("eth0", "eth1"):
        link = backend.link_get(c1, end)
        assert (link.operstate, link.carrier) == (OperState.UP, True)


def test_veth_falls_back_to_lowerlayerdown_when_its_peer_goes_down(
    backend: Backend, c1: str
) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_set_up(c1, "eth0")
    backend.link_set_up(c1, "eth1")
    backend.link_set_up(c1, "eth1", up=False)
    eth0 = backend.link_get(c1, "eth0")
    assert (eth0.operstate, eth0.carrier) == (OperState.LOWERLAYERDOWN, False)


def test_a_veth_across_namespaces_names_the_peers_namespace(backend: Backend, c1: str) -> None:
    host = backend.host_ns
    backend.veth_add(host, "veth-c1", "eth0", peer_ns=c1)
    assert names(backend, host) == ["lo", "veth-c1"]
    assert names(backend, c1) == ["lo", "eth0"]
    veth = backend.link_get(host, "veth-c1")
    eth0 = backend.link_get(c1, "eth0")
    assert (veth.peer, veth.peer_ns) == ("eth0", c1)
    assert (eth0.peer, eth0.peer_ns) == ("veth-c1", host)


def test_veth_carrier_follows_a_peer_in_another_namespace(backend: Backend, c1: str) -> None:
    backend.veth_add(backend.host_ns, "veth-c1", "eth0", peer_ns=c1)
    backend.link_set_up(c1, "eth0")
    eth0 = backend.link_get(c1, "eth0")
    # Without carrier; whether the kernel says DOWN or LOWERLAYERDOWN here is an accident:
    # default_operstate() (net/core/link_watch.c) looks the peer's ifindex up in eth0's
    # *own* namespace, where that index names some other device, or none.
    assert not eth0.carrier and eth0.operstate in (OperState.DOWN, OperState.LOWERLAYERDOWN)
    backend.link_set_up(backend.host_ns, "veth-c1")
    eth0 = backend.link_get(c1, "eth0")
    assert (eth0.operstate, eth0.carrier) == (OperState.UP, True)
    backend.link_set_up(backend.host_ns, "veth-c1", up=False)
    eth0 = backend.link_get(c1, "eth0")
    assert not eth0.carrier and eth0.operstate is not OperState.UP


def test_veth_mtu_applies_to_both_ends(backend: Backend, c1: str) -> None:
    backend.veth_add(backend.host_ns, "veth-c1", "eth0", peer_ns=c1, mtu=9000)
    assert backend.link_get(backend.host_ns, "veth-c1").mtu == 9000
    assert backend.link_get(c1, "eth0").mtu == 9000


@pytest.mark.parametrize("end", ["eth0", "eth1"])
def test_deleting_either_veth_end_removes_both(backend: Backend, c1: str, end: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_delete(c1, end)
    assert names(backend, c1) == ["lo"]


@pytest.mark.parametrize("side", ["host", "container"])
def test_deleting_either_veth_end_removes_both_across_namespaces(
    backend: Backend, c1: str, side: str
) -> None:
    host = backend.host_ns
    backend.veth_add(host, "veth-c1", "eth0", peer_ns=c1)
    if side == "host":
        backend.link_delete(host, "veth-c1")
    else:
        backend.link_delete(c1, "eth0")
    assert names(backend, host) == ["lo"]
    assert names(backend, c1) == ["lo"]


def test_veth_add_into_a_missing_namespace_leaves_nothing_behind(backend: Backend, c1: str) -> None:
    with pytest.raises(NotFound) as caught:
        backend.veth_add(c1, "eth0", "eth1", peer_ns="nowhere")
    assert caught.value.errno == errno.ENOENT
    assert names(backend, c1) == ["lo"]


def test_veth_add_whose_peer_name_is_taken_leaves_nothing_behind(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(AlreadyExists) as caught:
        backend.veth_add(backend.host_ns, "veth-c1", "eth1", peer_ns=c1)
    assert caught.value.errno == errno.EEXIST
    assert names(backend, backend.host_ns) == ["lo"]


def test_veth_with_both_ends_named_alike_fails_with_eexist(backend: Backend, c1: str) -> None:
    with pytest.raises(AlreadyExists):
        backend.veth_add(c1, "eth0", "eth0")
    assert names(backend, c1) == ["lo"]


def test_loopback_cannot_be_deleted(backend: Backend, c1: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        backend.link_delete(c1, "lo")
    assert caught.value.errno == errno.EOPNOTSUPP


# -- moving, renaming, MTU, MAC -----------------------------------------------------------


def test_a_moved_link_arrives_down_without_addresses_or_master(backend: Backend, c1: str) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    backend.addr_add(host, "veth0", "10.0.0.1/24")
    backend.link_set_up(host, "veth0")
    backend.link_set_netns(host, "veth0", c1)
    assert "veth0" not in names(backend, host)
    moved = backend.link_get(c1, "veth0")
    assert (moved.up, moved.operstate, moved.master, moved.port) == (
        False, OperState.DOWN, None, None)
    assert backend.addr_list(c1, "veth0") == []
    assert backend.addr_list(host) == []


def test_a_moved_veth_end_keeps_its_peer(backend: Backend, c1: str) -> None:
    host = backend.host_ns
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_netns(host, "veth1", c1)
    assert (backend.link_get(host, "veth0").peer, backend.link_get(host, "veth0").peer_ns) == (
        "veth1", c1)
    assert (backend.link_get(c1, "veth1").peer, backend.link_get(c1, "veth1").peer_ns) == (
        "veth0", host)


def test_moving_onto_a_taken_name_fails_with_eexist(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.veth_add(backend.host_ns, "eth0", "x1")
    with pytest.raises(AlreadyExists):
        backend.link_set_netns(backend.host_ns, "eth0", c1)
    assert "eth0" in names(backend, backend.host_ns)


def test_rename_of_a_down_link_reads_back(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_rename(c1, "eth0", "uplink")
    assert sorted(names(backend, c1)) == ["eth1", "lo", "uplink"]
    assert backend.link_get(c1, "eth1").peer == "uplink"


def test_rename_of_an_up_link_depends_on_live_rename(backend: Backend, c1: str) -> None:
    # Linux refused with EBUSY until 6.2, which allows renaming a link that is up.
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_set_up(c1, "eth0")
    if "live-rename" in backend.capabilities:
        backend.link_rename(c1, "eth0", "uplink")
        assert backend.link_get(c1, "uplink").up
    else:
        with pytest.raises(BackendError) as caught:
            backend.link_rename(c1, "eth0", "uplink")
        assert caught.value.errno == errno.EBUSY
        assert backend.link_get(c1, "eth0").up


def test_rename_onto_a_taken_name_fails_with_eexist(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(AlreadyExists):
        backend.link_rename(c1, "eth0", "eth1")


def test_mtu_reads_back(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_set_mtu(c1, "eth0", 1400)
    assert backend.link_get(c1, "eth0").mtu == 1400
    assert backend.link_get(c1, "eth1").mtu == 1500  # the peer keeps its own


@pytest.mark.parametrize("mtu", [67, 65536])
def test_mtu_outside_the_veth_range_fails_with_einval(backend: Backend, c1: str, mtu: int) -> None:
    # veth: min_mtu 68 (ETH_MIN_MTU), max_mtu 65535.
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(InvalidArgument) as caught:
        backend.link_set_mtu(c1, "eth0", mtu)
    assert caught.value.errno == errno.EINVAL
    assert backend.link_get(c1, "eth0").mtu == 1500


def test_mac_reads_back_lower_case(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    backend.link_set_mac(c1, "eth0", "02:AA:00:00:00:01")
    assert backend.link_get(c1, "eth0").mac == "02:aa:00:00:00:01"


def test_a_multicast_mac_fails_with_eaddrnotavail(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(NotFound) as caught:
        backend.link_set_mac(c1, "eth0", "01:00:5e:00:00:01")
    assert caught.value.errno == errno.EADDRNOTAVAIL


# -- bridges ------------------------------------------------------------------------------


def test_a_bridge_is_created_down_with_default_attributes(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0")
    br0 = backend.link_get(backend.host_ns, "br0")
    assert (br0.kind, br0.up, br0.operstate) == (LinkKind.BRIDGE, False, OperState.DOWN)
    assert br0.bridge == BridgeInfo(stp_state=0, forward_delay=15.0, ageing_time=300.0)
    assert br0.port is None and br0.master is None


def test_bridge_attributes_read_back_in_seconds(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0", stp_state=1, forward_delay=4.0, ageing_time=10.5)
    assert backend.link_get(backend.host_ns, "br0").bridge == BridgeInfo(1, 4.0, 10.5)


def test_bridge_set_changes_only_what_it_is_given(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0")
    backend.bridge_set(backend.host_ns, "br0", ageing_time=20.0)
    assert backend.link_get(backend.host_ns, "br0").bridge == BridgeInfo(0, 15.0, 20.0)
    backend.bridge_set(backend.host_ns, "br0", stp_state=1, forward_delay=2.0)
    assert backend.link_get(backend.host_ns, "br0").bridge == BridgeInfo(1, 2.0, 20.0)


def test_bridge_set_on_a_veth_fails_with_eopnotsupp(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(InvalidArgument) as caught:
        backend.bridge_set(c1, "eth0", ageing_time=10.0)
    assert caught.value.errno == errno.EOPNOTSUPP


def test_an_enslaved_link_names_its_master_and_has_port_info(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    port = backend.link_get(host, "veth0")
    assert port.master == "br0"
    assert port.port is not None
    assert (port.port.state, port.port.hairpin, port.port.learning) == (
        PortState.DISABLED, False, True)
    assert backend.link_get(host, "veth1").port is None


def test_nomaster_releases_the_port(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    backend.link_set_master(host, "veth0", None)
    port = backend.link_get(host, "veth0")
    assert (port.master, port.port) == (None, None)
    backend.link_set_master(host, "veth0", None)  # releasing a free link is not an error


def test_enslaving_to_another_bridge_moves_the_port(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.bridge_add(host, "br1")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    backend.link_set_master(host, "veth0", "br1")
    assert backend.link_get(host, "veth0").master == "br1"


def test_hairpin_and_learning_read_back(backend: Backend) -> None:
    host = backend.host_ns
    backend.bridge_add(host, "br0")
    backend.veth_add(host, "veth0", "veth1")
    backend.link_set_master(host, "veth0", "br0")
    backend.bridge_port_set(host, "veth0", hairpin=True, learning=False)
    port = backend.link_get(host, "veth0").port
    assert port is not None and (port.hairpin, port.learning) == (True, False)
    backend.bridge_port_set(host, "veth0", learning=True)
    port = backend.link_get(host, "veth0").port
    assert port is not None and (port.hairpin, port.learning) == (True, True)


def test_port_flags_on_a_link_without_master_fail_with_eopnotsupp(
    backend: Backend, c1: str
) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(InvalidArgument) as caught:
        backend.bridge_port_set(c1, "eth0", hairpin=True)
    assert caught.value.errno == errno.EOPNOTSUPP


def test_a_bridge_cannot_be_its_own_master(backend: Backend) -> None:
    backend.bridge_add(backend.host_ns, "br0")
    with pytest.raises(InvalidArgument) as caught:
        backend.link_set_master(backend.host_ns, "br0", "br0")
    assert caught.value.errno == errno.ELOOP


def test_a_bridge_cannot_be_enslaved_to_a_bridge(backend: Backend) -> None:
    # br_add_if refuses bridge ports that are bridges ("Can not enslave a bridge to a bridge").
    backend.bridge_add(backend.host_ns, "br0")
    backend.bridge_add(backend.host_ns, "br1")
    with pytest.raises(InvalidArgument) as caught:
        backend.link_set_master(backend.host_ns, "br1", "br0")
    assert caught.value.errno == errno.ELOOP
    assert backend.link_get(backend.host_ns, "br1").master is None


def test_enslaving_to_a_veth_fails_with_eopnotsupp(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(InvalidArgument) as caught:
        backend.link_set_master(c1, "eth0", "eth1")
    assert caught.value.errno == errno.EOPNOTSUPP


def test_enslaving_to_a_missing_master_fails_with_enodev(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(NotFound) as caught:
        backend.link_set_master(c1, "eth0", "br9")
    assert caught.value.errno == errno.ENODEV


# -- names --------------------------------------------------------------------------------

#: dev_valid_name(): not empty, not "." or "..", no '/', ':' or whitespace; the IFLA_IFNAME
#: policy (at most IFNAMSIZ-1 = 15 bytes) answers ERANGE before that.
BAD_NAMES = [
    pytest.param("x" * 16, errno.ERANGE, id="16-chars"),
    pytest.param("a/b", errno.EINVAL, id="slash"),
    pytest.param("a b", errno.EINVAL, id="space"),
    pytest.param("a\tb", errno.EINVAL, id="tab"),
    pytest.param("", errno.EINVAL, id="empty"),
    pytest.param(".", errno.EINVAL, id="dot"),
    pytest.param("a:b", errno.EINVAL, id="colon"),
]


@pytest.mark.parametrize("name, err", BAD_NAMES)
def test_veth_add_refuses_an_invalid_name(backend: Backend, c1: str, name: str, err: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        backend.veth_add(c1, name, "peer0")
    assert caught.value.errno == err
    assert names(backend, c1) == ["lo"]


@pytest.mark.parametrize("name, err", BAD_NAMES)
def test_veth_add_refuses_an_invalid_peer_name(
    backend: Backend, c1: str, name: str, err: int
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        backend.veth_add(c1, "eth0", name)
    assert caught.value.errno == err
    assert names(backend, c1) == ["lo"]


@pytest.mark.parametrize("name, err", BAD_NAMES)
def test_bridge_add_refuses_an_invalid_name(backend: Backend, name: str, err: int) -> None:
    with pytest.raises(InvalidArgument) as caught:
        backend.bridge_add(backend.host_ns, name)
    assert caught.value.errno == err


@pytest.mark.parametrize("name, err", BAD_NAMES)
def test_rename_refuses_an_invalid_name(backend: Backend, c1: str, name: str, err: int) -> None:
    backend.veth_add(c1, "eth0", "eth1")
    with pytest.raises(InvalidArgument) as caught:
        backend.link_rename(c1, "eth0", name)
    assert caught.value.errno == err
    assert "eth0" in names(backend, c1)


def test_a_fifteen_character_name_is_accepted(backend: Backend, c1: str) -> None:
    backend.veth_add(c1, "a" * 15, "b" * 15)
    assert sorted(names(backend, c1)) == ["a" * 15, "b" * 15, "lo"]
