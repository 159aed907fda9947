"""`ip` behaviour the golden session does not pin: abbreviations, batch mode, options this
front-end refuses loudly, the netns exec hook, netns ids, flushes, and veth/bridge creation
across namespaces. Expected texts are iproute2 6.1's (recorded on Debian 12)."""

from __future__ import annotations

import io
import json
import shlex
from dataclasses import dataclass

import pytest

from ctrnet.backend import Backend
from ctrnet.cmdline import Context, dispatch
from ctrnet.types import Neighbour, NeighState


@dataclass(frozen=True)
class Result:
    out: str
    err: str
    status: int


def sh(backend: Backend, line: str, ns: str | None = None, stdin: str = "") -> Result:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(backend, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    if ns:
        ctx = ctx.in_namespace(ns)
    argv = shlex.split(line)
    status = dispatch(argv[0], argv[1:], ctx)
    return Result(out.getvalue(), err.getvalue(), status)


def ok(backend: Backend, line: str, ns: str | None = None) -> str:
    result = sh(backend, line, ns)
    assert result.status == 0, f"{line}: {result.err}"
    return result.out


@pytest.fixture
def pair(backend: Backend) -> Backend:
    """host:va <-> c1:vb, both up, 10.0.0.1/24 and 10.0.0.2/24."""
    ok(backend, "ip netns add c1")
    ok(backend, "ip link add va type veth peer name vb netns c1")
    ok(backend, "ip link set va up")
    ok(backend, "ip -n c1 link set vb up")
    ok(backend, "ip addr add 10.0.0.1/24 dev va")
    ok(backend, "ip -n c1 addr add 10.0.0.2/24 dev vb")
    return backend


@pytest.mark.parametrize(
    "line",
    ["ip l", "ip li sh", "ip link lst", "ip a", "ip addr s", "ip r", "ip ro li", "ip n",
     "ip neigh sh", "ip netn", "ip -br l", "ip -j a", "ip --json link"],
)
def test_abbreviations_select_the_object_iproute2_selects(pair: Backend, line: str) -> None:
    assert sh(pair, line).status == 0


def test_ip_li_se_is_link_set(pair: Backend) -> None:
    ok(pair, "ip li se va down")
    assert "state DOWN" in ok(pair, "ip l sh va")


def test_ip_n_means_neighbour_not_netns(pair: Backend) -> None:
    ok(pair, "ping -c 1 -W 1 10.0.0.2")
    assert ok(pair, "ip n").startswith("10.0.0.2 dev va lladdr ")


def test_batch_stops_at_the_first_failure_and_names_the_line(pair: Backend) -> None:
    result = sh(pair, "ip -batch -", stdin="link set va down\nlink set nosuch up\nlink set va up\n")
    assert (result.status, result.err) == (1, 'Cannot find device "nosuch"\nCommand failed -:2\n')
    assert "state DOWN" in ok(pair, "ip link show va")


def test_batch_with_force_goes_on_and_reports_every_failure(pair: Backend) -> None:
    script = "link set nosuch up\nroute add 10.0.0.0/24 dev va\nlink set va down\n"
    result = sh(pair, "ip -force -batch -", stdin=script)
    assert result.status == 1
    assert result.err == (
        'Cannot find device "nosuch"\nCommand failed -:1\n'
        "RTNETLINK answers: File exists\nCommand failed -:2\n"
    )
    assert "state DOWN" in ok(pair, "ip link show va")


def test_batch_exits_at_once_on_a_fatal_usage_error(pair: Backend) -> None:
    result = sh(pair, "ip -batch -", stdin="link frob\nlink set va down\n")
    assert (result.status, result.err) == (255, 'Command "frob" is unknown, try "ip link help".\n')
    assert "state UP" in ok(pair, "ip link show va")


def test_batch_skips_comments_and_blank_lines(pair: Backend) -> None:
    assert sh(pair, "ip -batch -", stdin="# comment\n\nlink set va down # why\n").status == 0
    assert "state DOWN" in ok(pair, "ip link show va")


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("ip -6 addr", "option -6"),
        ("ip -s link", "option -s"),
        ("ip rule", "object 'rule'"),
        ("ip link add d0 type dummy", "link type dummy"),
        ("ip route add 10.9.0.0/24 dev va table 100", "route table 100"),
        ("ip route add 10.9.0.0/24 dev va src 10.0.0.1", "route option 'src'"),
        ("ip addr add 10.9.0.1/24 dev va label va:1", "address option 'label'"),
        ("ip neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 dev va nud none",
         "nud none (an entry in state NONE)"),
        ("ip link set va alias uplink", "link option 'alias'"),
    ],
)
def test_unsupported_forms_fail_loudly_with_exit_2(pair: Backend, line: str, what: str) -> None:
    result = sh(pair, line)
    assert (result.status, result.err) == (2, f"ctrnet sim: ip: {what} is not supported\n")


def test_netns_exec_without_a_runner_fails_loudly(pair: Backend) -> None:
    result = sh(pair, "ip netns exec c1 ip link")
    assert result.status == 2
    assert "ctrnet sim: ip: netns exec" in result.err


def test_netns_exec_hands_namespace_and_argv_to_the_hook(pair: Backend) -> None:
    calls: list[tuple[str, list[str]]] = []

    def hook(ns: str, argv: list[str]) -> int:
        calls.append((ns, argv))
        return 7

    ctx = Context(pair, exec_hook=hook)
    assert dispatch("ip", ["netns", "exec", "c1", "sysctl", "-n", "net.ipv4.ip_forward"], ctx) == 7
    assert calls == [("c1", ["sysctl", "-n", "net.ipv4.ip_forward"])]


def test_netns_list_shows_the_id_the_current_namespace_gave_a_peer_namespace(
    pair: Backend,
) -> None:
    ok(pair, "ip netns add c2")
    assert ok(pair, "ip netns list") == "c1 (id: 0)\nc2\n"
    assert json.loads(ok(pair, "ip -j netns")) == [{"name": "c1", "id": 0}, {"name": "c2"}]


def test_netns_delete_takes_the_veth_peer_with_it(pair: Backend) -> None:
    ok(pair, "ip netns delete c1")
    result = sh(pair, "ip link show va")
    assert (result.status, result.err) == (1, 'Device "va" does not exist.\n')


def test_dash_n_runs_in_the_named_namespace(pair: Backend) -> None:
    assert ok(pair, "ip -n c1 -br addr show dev vb").split()[2] == "10.0.0.2/24"


def test_veth_created_with_both_ends_in_other_namespaces(backend: Backend) -> None:
    ok(backend, "ip netns add c1")
    ok(backend, "ip netns add c2")
    ok(backend, "ip link add x1 netns c1 type veth peer name x2 netns c2")
    assert ok(backend, "ip -n c1 -br link show x1").startswith("x1@if")
    assert ok(backend, "ip -n c2 -br link show x2").startswith("x2@if")
    assert "x1" not in ok(backend, "ip link")


def test_link_set_netns_then_up_applies_in_the_new_namespace(pair: Backend) -> None:
    ok(pair, "ip link add vx type veth peer name vy")
    ok(pair, "ip link set vx netns c1 up")
    assert "<NO-CARRIER,BROADCAST,MULTICAST,UP>" in ok(pair, "ip -n c1 link show vx")


def test_link_add_applies_address_and_up(backend: Backend) -> None:
    ok(backend, "ip link add br9 address 02:00:00:00:09:09 up type bridge")
    assert ok(backend, "ip -br link show br9").split()[2] == "02:00:00:00:09:09"
    assert "UP" in ok(backend, "ip -j link show br9")


def test_bridge_times_are_taken_in_centiseconds(backend: Backend) -> None:
    ok(backend, "ip link add name br0 type bridge forward_delay 400 ageing_time 1000")
    info = backend.link_get(backend.host_ns, "br0").bridge
    assert info is not None
    assert (info.forward_delay, info.ageing_time) == (4.0, 10.0)


def test_addr_add_accepts_brd_plus(pair: Backend) -> None:
    ok(pair, "ip addr add 10.7.0.1/24 brd + dev va")
    assert "10.7.0.1/24" in ok(pair, "ip -br addr show va")


def test_addr_flush_removes_every_address_of_the_device(pair: Backend) -> None:
    ok(pair, "ip addr add 10.7.0.1/24 dev va")
    ok(pair, "ip addr flush dev va")
    assert [a for a in pair.addr_list(pair.host_ns, "va")] == []
    assert ok(pair, "ip route") == ""


def test_route_flush_dev_removes_its_routes_only(pair: Backend) -> None:
    ok(pair, "ip route add 10.8.0.0/24 via 10.0.0.2")
    ok(pair, "ip route add default via 10.0.0.2")
    ok(pair, "ip route flush 10.8.0.0/24")
    assert ok(pair, "ip route").splitlines()[0] == "default via 10.0.0.2 dev va "
    assert "10.8.0.0/24" not in ok(pair, "ip route")


def test_route_replace_adds_then_replaces_the_same_destination_and_metric(pair: Backend) -> None:
    ok(pair, "ip route replace 10.8.0.0/24 via 10.0.0.2")
    ok(pair, "ip route replace 10.8.0.0/24 dev va")
    routes = [line for line in ok(pair, "ip route").splitlines() if "10.8.0.0" in line]
    assert routes == ["10.8.0.0/24 dev va scope link "]


def test_route_replace_keeps_the_old_route_when_the_new_one_is_refused(pair: Backend) -> None:
    ok(pair, "ip route add 10.8.0.0/24 via 10.0.0.2")
    result = sh(pair, "ip route replace 10.8.0.0/24 via 172.16.9.9")
    assert (result.status, result.err) == (2, "Error: Nexthop has invalid gateway.\n")
    assert "10.8.0.0/24 via 10.0.0.2 dev va " in ok(pair, "ip route")


def test_route_show_json_is_an_empty_list_without_routes(backend: Backend) -> None:
    assert ok(backend, "ip -j route") == "[]\n"


def test_neigh_show_prints_states_without_lladdr_when_unresolved(
    pair: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [
        Neighbour(pair.host_ns, "va", "10.0.0.9", None, NeighState.INCOMPLETE),
        Neighbour(pair.host_ns, "va", "10.0.0.2", "02:00:00:00:00:02", NeighState.STALE),
        Neighbour(pair.host_ns, "va", "10.0.0.8", None, NeighState.FAILED),
    ]
    monkeypatch.setattr(pair, "neigh_list", lambda ns, ifname=None: entries)
    assert ok(pair, "ip neigh show") == (
        "10.0.0.9 dev va INCOMPLETE \n"
        "10.0.0.2 dev va lladdr 02:00:00:00:00:02 STALE \n"
        "10.0.0.8 dev va FAILED \n"
    )
    assert json.loads(ok(pair, "ip -j neigh show dev va"))[0] == {
        "dst": "10.0.0.9", "state": ["INCOMPLETE"]
    }


def test_neigh_flush_dev_forgets_learned_entries(pair: Backend) -> None:
    ok(pair, "ping -c 1 -W 1 10.0.0.2")
    assert ok(pair, "ip neigh show dev va") != ""
    ok(pair, "ip neigh flush dev va")
    assert ok(pair, "ip neigh show dev va") == ""


def test_version_is_iproute2_6_1(backend: Backend) -> None:
    assert ok(backend, "ip -V") == "ip utility, iproute2-6.1.0, libbpf 1.1.2\n"


def test_veth_without_peer_name_gets_the_lowest_free_vethN(backend: Backend) -> None:
    ok(backend, "ip link add veth0 type veth peer name x0")
    ok(backend, "ip link add v1 type veth")
    assert ok(backend, "ip -br link show v1").startswith("v1@veth1 ")


def test_neigh_show_filters_by_destination(pair: Backend) -> None:
    ok(pair, "ping -c 1 -W 1 10.0.0.2")
    assert ok(pair, "ip neigh show 10.0.0.2").startswith("10.0.0.2 dev va lladdr ")
    assert ok(pair, "ip neigh show to 10.9.0.0/16") == ""
