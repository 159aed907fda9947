"""`ping`, `sysctl`, `sleep` and `bridge` behaviour the golden session does not pin: ping's
statistics for partial loss, its exit statuses and refusals, sysctl's flags and usage, sleep on
the backend clock, bridge port flags. Expected texts are the Debian 12 tools'."""

from __future__ import annotations

import io
import json
import shlex
from dataclasses import dataclass

import pytest

from ctrnet.backend import Backend
from ctrnet.cmdline import Context, dispatch, ping
from ctrnet.types import PingResult


@dataclass(frozen=True)
class Result:
    out: str
    err: str
    status: int


def sh(backend: Backend, line: str, ns: str | None = None, env: dict[str, str] | None = None
       ) -> Result:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(backend, stdout=out, stderr=err, env=env or {})
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
def bridged(backend: Backend) -> Backend:
    """c1:eth0 10.0.0.2/24 -- host:veth-c1 in br0 10.0.0.1/24, all up."""
    for line in ("ip netns add c1", "ip link add br0 type bridge",
                 "ip link add eth0 netns c1 type veth peer name veth-c1",
                 "ip link set veth-c1 master br0", "ip link set br0 up",
                 "ip link set veth-c1 up", "ip -n c1 link set eth0 up",
                 "ip addr add 10.0.0.1/24 dev br0", "ip -n c1 addr add 10.0.0.2/24 dev eth0"):
        ok(backend, line)
    return backend


def test_ping_statistics_show_partial_loss_like_iputils() -> None:
    text = ping.report(PingResult("10.0.0.1", sent=3, received=2, ttls=(64, 63)), interval=1.0)
    assert text == (
        "PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.\n"
        "64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.000 ms\n"
        "64 bytes from 10.0.0.1: icmp_seq=2 ttl=63 time=0.000 ms\n"
        "\n--- 10.0.0.1 ping statistics ---\n"
        "3 packets transmitted, 2 received, 33.3333% packet loss, time 2000ms\n"
        "rtt min/avg/max/mdev = 0.000/0.000/0.000/0.000 ms\n"
    )


def test_ping_reply_exits_0_and_silence_exits_1(bridged: Backend) -> None:
    assert sh(bridged, "ping -c 1 -W 1 10.0.0.1", ns="c1").status == 0
    silent = sh(bridged, "ping -c 2 -i 0.2 -W 1 10.0.0.99", ns="c1")
    assert silent.status == 1
    assert "2 packets transmitted, 0 received, 100% packet loss" in silent.out


def test_ping_without_route_exits_2_with_connect_error(bridged: Backend) -> None:
    result = sh(bridged, "ping -c 1 198.51.100.7", ns="c1")
    assert (result.status, result.out, result.err) == (
        2, "", "ping: connect: Network is unreachable\n")


def test_ping_deadline_fails_when_fewer_replies_than_count(bridged: Backend) -> None:
    assert sh(bridged, "ping -c 1 -w 2 10.0.0.1", ns="c1").status == 0
    assert sh(bridged, "ping -c 1 -w 1 10.0.0.98", ns="c1").status == 1


def test_ping_accepts_glued_options(bridged: Backend) -> None:
    assert "1 received" in ok(bridged, "ping -qc1 -W1 10.0.0.1", ns="c1")


def test_ping_interval_passes_on_the_backend_clock(bridged: Backend) -> None:
    before = bridged.now()
    ok(bridged, "ping -c 3 -i 0.5 -W 1 10.0.0.1", ns="c1")
    assert bridged.now() - before >= 1.0


@pytest.mark.parametrize(
    ("line", "what"),
    [("ping 10.0.0.1", "pinging without -c (until interrupted)"),
     ("ping -c 1 -f 10.0.0.1", "option -f"),
     ("ping -c 1 -s 1500 10.0.0.1",
      "-s 1500 with a link MTU of 1500 (fragmentation, path MTU and drops for size are not "
      "modelled)"),
     ("ping -c 1 -M probe 10.0.0.1", "-M probe"),
     ("ping -c 1 -I lo 10.0.0.2", "-I with an interface the route does not use")],
)
def test_ping_refuses_what_it_cannot_do(bridged: Backend, line: str, what: str) -> None:
    result = sh(bridged, line)
    assert (result.status, result.err) == (2, f"ctrnet sim: ping: {what} is not supported\n")


def test_sysctl_combined_flags_and_values_only(backend: Backend) -> None:
    assert ok(backend, "sysctl -qw net.ipv4.ip_forward=1") == ""
    assert ok(backend, "sysctl -n net.ipv4.ip_forward") == "1\n"
    assert ok(backend, "sysctl -N net.ipv4.ip_forward") == "net.ipv4.ip_forward\n"
    assert ok(backend, "sysctl -b net.ipv4.ip_forward") == "1"


def test_sysctl_keys_are_per_namespace(backend: Backend) -> None:
    ok(backend, "ip netns add c1")
    ok(backend, "sysctl -w net.ipv4.ip_forward=1")
    assert ok(backend, "sysctl -n net.ipv4.ip_forward", ns="c1") == "0\n"


def test_sysctl_without_operands_prints_usage_and_exits_1(backend: Backend) -> None:
    result = sh(backend, "sysctl")
    assert result.status == 1
    assert result.err.startswith("\nUsage:\n sysctl [options] [variable[=value] ...]\n")


@pytest.mark.parametrize("flag", ["-a", "-p", "--system"])
def test_sysctl_refuses_whole_tree_and_file_loading(backend: Backend, flag: str) -> None:
    result = sh(backend, f"sysctl {flag}")
    message = f"ctrnet sim: sysctl: option {flag} is not supported\n"
    assert (result.status, result.err) == (2, message)


def test_sleep_advances_the_backend_clock_by_the_sum_of_operands(backend: Backend) -> None:
    before = backend.now()
    ok(backend, "sleep 1 0.5s")
    assert backend.now() - before == pytest.approx(1.5, abs=0.2)


@pytest.mark.parametrize(("env", "quoted"), [({"LANG": "C"}, "'abc'"), ({}, "\u2018abc\u2019")])
def test_sleep_rejects_garbage_quoting_like_coreutils(backend: Backend, env: dict[str, str],
                                                      quoted: str) -> None:
    result = sh(backend, "sleep abc", env=env)
    assert (result.status, result.err) == (
        1, f"sleep: invalid time interval {quoted}\nTry 'sleep --help' for more information.\n")


def test_sleep_without_operand_is_a_usage_error(backend: Backend) -> None:
    result = sh(backend, "sleep")
    assert (result.status, result.err) == (
        1, "sleep: missing operand\nTry 'sleep --help' for more information.\n")


def test_bridge_link_set_changes_hairpin_and_learning(bridged: Backend) -> None:
    ok(bridged, "bridge link set dev veth-c1 hairpin on learning off")
    port = bridged.link_get(bridged.host_ns, "veth-c1").port
    assert port is not None and (port.hairpin, port.learning) == (True, False)
    assert "hairpin on" in ok(bridged, "bridge -d link show dev veth-c1")
    assert json.loads(ok(bridged, "bridge -j -d link"))[0]["hairpin"] is True


def test_bridge_link_set_requires_dev(bridged: Backend) -> None:
    result = sh(bridged, "bridge link set hairpin on")
    assert result.status == 255
    assert result.err.endswith("Device is a required argument.\n")


def test_bridge_fdb_without_master_is_refused(bridged: Backend) -> None:
    result = sh(bridged, "bridge fdb add 02:00:00:00:00:99 dev veth-c1")
    assert (result.status, result.err) == (
        2, "ctrnet sim: bridge: fdb entries without 'master' is not supported\n")


def test_unknown_tool_is_127(backend: Backend) -> None:
    result = sh(backend, "traceroute -n 10.0.0.1")
    assert (result.status, result.err) == (127, "ctrnet sim: traceroute: command not found\n")
