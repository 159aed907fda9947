"""ICMP redirects: where the kernel's router would send one, the simulator, which does not model
them, refuses loudly instead of forwarding silently as if none had gone.

The kernel's condition (net/ipv4/route.c __mkroute_input, ip_forward): the packet leaves by
the device it came in by, the route back to its sender leaves by that device with no gateway
(fib_validate_source's non-zero answer), and send_redirects is on for that device (conf.all
or its own; the default is 1). Checked on 6.18 with `ctrnet sim compare` on the script of
`REDIRECT_SCRIPT`: `ping` prints "From 10.5.0.1: icmp_seq=1 Redirect Host(New nexthop:
10.6.0.3)" and the sender's `ip route get` shows "cache <redirected>"; with send_redirects 0
on conf.all and br0 no redirect and the same output on both sides.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ctrnet.backends.sim import SimBackend
from ctrnet.errors import NotModelled

#: r routes 10.6.0.0/24 out br0, the link a (10.5.0.2) sends it on: r would redirect a.
REDIRECT_SCRIPT = """
ip netns add r; ip netns add a; ip netns add b
ip -n r link add br0 type bridge; ip -n r link set br0 up
ip -n r addr add 10.5.0.1/24 dev br0; ip -n r addr add 10.6.0.1/24 dev br0
ip -n r link add ra type veth peer name eth0 netns a
ip -n r link add rb type veth peer name eth0 netns b
ip -n r link set ra master br0; ip -n r link set rb master br0
ip -n r link set ra up; ip -n r link set rb up
ip -n a addr add 10.5.0.2/24 dev eth0; ip -n a link set eth0 up
ip -n b addr add 10.5.0.3/24 dev eth0; ip -n b addr add 10.6.0.3/24 dev eth0
ip -n b link set eth0 up
ip -n a route add 10.6.0.0/24 via 10.5.0.1
ip netns exec r sysctl -q -w net.ipv4.ip_forward=1
"""


def _world() -> SimBackend:
    b = SimBackend(seed=5)
    for ns in ("r", "a", "b"):
        b.netns_add(ns)
    b.bridge_add("r", "br0")
    b.link_set_up("r", "br0")
    b.addr_add("r", "br0", "10.5.0.1/24")
    b.addr_add("r", "br0", "10.6.0.1/24")
    for peer in ("a", "b"):
        b.veth_add("r", f"r{peer}", "eth0", peer)
        b.link_set_master("r", f"r{peer}", "br0")
        b.link_set_up("r", f"r{peer}")
        b.link_set_up(peer, "eth0")
    b.addr_add("a", "eth0", "10.5.0.2/24")
    b.addr_add("b", "eth0", "10.5.0.3/24")
    b.addr_add("b", "eth0", "10.6.0.3/24")
    b.route_add("a", "10.6.0.0/24", gateway="10.5.0.1")
    b.sysctl_set("r", "net.ipv4.ip_forward", "1")
    return b


@pytest.fixture
def b() -> Iterator[SimBackend]:
    world = _world()
    yield world
    world.close()


def test_a_packet_the_kernel_would_answer_with_a_redirect_is_refused(b: SimBackend) -> None:
    with pytest.raises(NotModelled) as refused:
        b.ping("a", "10.6.0.3", count=1, timeout=1)
    assert refused.value.errno == errno.EOPNOTSUPP
    assert str(refused.value).startswith(
        "namespace 'r' would send 10.5.0.2 an ICMP redirect (a packet to 10.6.0.3 came in "
        "and goes out br0, next hop 10.6.0.3; send_redirects is on)")
    assert refused.value.message_ja and "ICMP リダイレクト" in refused.value.message_ja


def test_the_world_stays_usable_after_a_refusal(b: SimBackend) -> None:
    with pytest.raises(NotModelled):
        b.ping("a", "10.6.0.3", count=1, timeout=1)
    assert b.ping("a", "10.5.0.3", count=1, timeout=1).received == 1  # on-link: no router


def test_send_redirects_off_on_all_and_the_device_forwards_silently_as_the_kernel(
        b: SimBackend) -> None:
    b.sysctl_set("r", "net.ipv4.conf.all.send_redirects", "0")
    b.sysctl_set("r", "net.ipv4.conf.br0.send_redirects", "0")
    assert b.ping("a", "10.6.0.3", count=2, timeout=1).received == 2


def test_conf_default_no_longer_reaches_a_device_with_an_address(b: SimBackend) -> None:
    # ipv4_devconf_setall: br0 got its addresses before the write, so it keeps its 1.
    b.sysctl_set("r", "net.ipv4.conf.all.send_redirects", "0")
    b.sysctl_set("r", "net.ipv4.conf.default.send_redirects", "0")
    assert b.sysctl_get("r", "net.ipv4.conf.br0.send_redirects") == "1"
    with pytest.raises(NotModelled):
        b.ping("a", "10.6.0.3", count=1, timeout=1)


def test_send_redirects_off_on_all_only_still_redirects(b: SimBackend) -> None:
    # IN_DEV_TX_REDIRECTS is IN_DEV_ORCONF: br0's own 1 is enough.
    b.sysctl_set("r", "net.ipv4.conf.all.send_redirects", "0")
    with pytest.raises(NotModelled):
        b.ping("a", "10.6.0.3", count=1, timeout=1)


def test_no_redirect_when_the_packet_leaves_by_another_device(b: SimBackend) -> None:
    b.netns_add("c")
    b.veth_add("r", "rc", "eth0", "c")
    b.link_set_up("r", "rc")
    b.link_set_up("c", "eth0")
    b.addr_add("r", "rc", "10.7.0.1/24")
    b.addr_add("c", "eth0", "10.7.0.2/24")
    b.route_add("c", "default", gateway="10.7.0.1")
    b.route_add("a", "10.7.0.0/24", gateway="10.5.0.1")
    assert b.ping("a", "10.7.0.2", count=1, timeout=1).received == 1


def test_no_redirect_when_the_sender_is_behind_a_gateway(b: SimBackend) -> None:
    # fib_validate_source answers 0 when the route back to the sender has a gateway.
    b.netns_add("d")
    b.veth_add("a", "ad", "eth0", "d")
    b.link_set_up("a", "ad")
    b.link_set_up("d", "eth0")
    b.addr_add("a", "ad", "10.8.0.1/24")
    b.addr_add("d", "eth0", "10.8.0.2/24")
    b.route_add("d", "default", gateway="10.8.0.1")
    b.sysctl_set("a", "net.ipv4.ip_forward", "1")
    b.route_add("r", "10.8.0.0/24", gateway="10.5.0.2")
    b.route_add("b", "10.8.0.0/24", gateway="10.5.0.2")  # the replies do not pass r
    # r: in by br0 from 10.8.0.2 (behind a), out by br0 to 10.6.0.3: no redirect.
    assert b.ping("d", "10.6.0.3", count=1, timeout=1).received == 1


def test_the_shell_fails_the_command_with_one_line_naming_the_redirect() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    script = REDIRECT_SCRIPT + "ip netns exec a ping -c 1 -W 1 10.6.0.3; echo status=$?\n"
    run = subprocess.run([sys.executable, "-m", "ctrnet.cli", "sim", "exec", "--", "sh", "-c",
                          script], capture_output=True, text=True, timeout=60, env=env)
    assert run.stdout == "status=2\n"
    assert run.stderr == (
        "ctrnet sim: ping: not modelled: namespace 'r' would send 10.5.0.2 an ICMP redirect "
        "(a packet to 10.6.0.3 came in and goes out br0, next hop 10.6.0.3; send_redirects "
        "is on)\n")


def test_a_redirect_met_while_the_clock_moves_fails_the_next_command_that_ends() -> None:
    # a's SYN waits for ARP while r's port is down; the ARP retry that resolves it fires in
    # the scheduler (the clock moving under `sleep`), and r's redirect is met there: the run
    # does not hang, and nc, the command that ends next, fails loudly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    script = REDIRECT_SCRIPT + (
        "ip -n r link set ra down\n"
        "ip netns exec a nc -z -w 5 10.6.0.3 80 & n=$!\n"
        "sleep 0.5\nip -n r link set ra up\nsleep 3; echo sleep=$?\n"
        "wait $n; echo nc=$?\n")
    run = subprocess.run([sys.executable, "-m", "ctrnet.cli", "sim", "exec", "--", "sh", "-c",
                          script], capture_output=True, text=True, timeout=60, env=env)
    assert run.stdout == "sleep=0\nnc=2\n"
    assert run.stderr == (
        "ctrnet sim: nc: not modelled: namespace 'r' would send 10.5.0.2 an ICMP redirect "
        "(a packet to 10.6.0.3 came in and goes out br0, next hop 10.6.0.3; send_redirects "
        "is on)\n")
