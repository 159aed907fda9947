"""ICMP rate limits on the simulator, as Linux 6.18 applies them (net/ipv4/icmp.c,
inetpeer.c, ip_error in route.c), on the virtual clock (HZ=250).

A router `r` answers pings from its clients with REJECT's port unreachable: each client is a
peer of its own, whose bucket lets a burst of 6 errors go, then one per icmp_ratelimit (1 s).
conformance/cmdline/data/icmp_ratelimit.sh holds what the kernel printed for the same kinds
of bursts.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator

import pytest

from ctrnet.backends.sim import SimBackend, icmplimit, ipv4, persist
from ctrnet.backends.sim.icmplimit import HZ, IcmpLimits
from ctrnet.backends.sim.packet import (
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    IPPROTO_ICMP,
    Icmp,
    IPv4,
    parse_ip,
)
from ctrnet.errors import CtrnetError

CLIENTS = 4


def _world(routers: tuple[str, ...] = ("r",)) -> SimBackend:
    """Routers, each with clients c1..c4 (10.9.N.2, the router 10.9.N.1 on eN); the routers
    REJECT every ping from a client."""
    b = SimBackend(seed=7)
    for r in routers:
        b.netns_add(r)
        b.link_set_up(r, "lo")
        b.sysctl_set(r, "net.ipv4.ip_forward", "1")
        for n in range(1, CLIENTS + 1):
            c = f"{r}c{n}"
            b.netns_add(c)
            b.veth_add(r, f"e{n}", "eth0", c)
            b.addr_add(r, f"e{n}", f"10.9.{n}.1/24")
            b.addr_add(c, "eth0", f"10.9.{n}.2/24")
            b.link_set_up(r, f"e{n}")
            b.link_set_up(c, "eth0")
            b.route_add(c, "default", gateway=f"10.9.{n}.1")
        b.iptables_restore(r, "*filter\n-A INPUT -p icmp -s 10.9.0.0/16 -j REJECT\nCOMMIT\n")
    return b


def _errors(b: SimBackend, client: str, dst: str = "10.9.1.1", count: int = 10,
            interval: float = 0.01) -> int:
    # A short wait for replies after the last request: the bucket must not refill meanwhile.
    return len(b.ping(client, dst, count=count, interval=interval, timeout=0.05).errors)


@pytest.fixture
def b() -> Iterator[SimBackend]:
    world = _world()
    yield world
    world.close()


# -- the peer's bucket --------------------------------------------------------------------
def test_a_burst_of_six_then_one_per_second(b: SimBackend) -> None:
    assert _errors(b, "rc1") == 6
    assert _errors(b, "rc1", count=3) == 0  # the same second: nothing left
    b.sleep(1.0)
    assert _errors(b, "rc1", count=3) == 1  # one token a second


def test_six_idle_seconds_refill_the_whole_burst(b: SimBackend) -> None:
    assert _errors(b, "rc1") == 6
    b.sleep(5.0)
    assert _errors(b, "rc1") == 5
    b.sleep(6.0)
    assert _errors(b, "rc1") == 6
    b.sleep(60.0)
    assert _errors(b, "rc1") == 6  # never more than the burst


def test_each_destination_has_its_own_bucket(b: SimBackend) -> None:
    assert _errors(b, "rc1") == 6
    assert _errors(b, "rc2", dst="10.9.2.1") == 6
    assert _errors(b, "rc1", count=2) == 0


def test_each_namespace_has_its_own_peers() -> None:
    b = _world(("r", "s"))  # two routers, each with a client at 10.9.1.2
    assert _errors(b, "rc1") == 6
    assert _errors(b, "sc1") == 6
    assert b.world.ns("r").icmp is not b.world.ns("s").icmp


def test_icmp_ratelimit_zero_lifts_the_peer_limit(b: SimBackend) -> None:
    assert _errors(b, "rc1") == 6
    b.sysctl_set("r", "net.ipv4.icmp_ratelimit", "0")
    assert _errors(b, "rc1", count=20) == 20


def test_a_longer_icmp_ratelimit_spaces_the_errors_out(b: SimBackend) -> None:
    b.sysctl_set("r", "net.ipv4.icmp_ratelimit", "2000")
    assert _errors(b, "rc1") == 6
    b.sleep(1.0)
    assert _errors(b, "rc1", count=2) == 0
    b.sleep(1.0)
    assert _errors(b, "rc1", count=2) == 1


def test_an_error_to_a_loopback_route_is_not_limited(b: SimBackend) -> None:
    # The router pings itself: the request comes in on lo (no global limit) and the error
    # goes out lo (no peer limit).
    b.iptables_restore("r", "*filter\n-A INPUT -p icmp --icmp-type echo-request -j REJECT\n"
                            "COMMIT\n", noflush=False)
    assert _errors(b, "r", dst="10.9.1.1", count=20) == 20
    assert _errors(b, "r", dst="127.0.0.1", count=20) == 20


# -- which messages -------------------------------------------------------------------------
def test_echo_replies_are_not_limited_unless_the_mask_has_bit_0(b: SimBackend) -> None:
    b.iptables_restore("r", "*filter\n-F INPUT\nCOMMIT\n", noflush=True)
    assert b.ping("rc1", "10.9.1.1", count=20, interval=0.01).received == 20
    b.sysctl_set("r", "net.ipv4.icmp_ratemask", "6169")
    assert b.ping("rc2", "10.9.2.1", count=10, interval=0.01).received == 6
    # To itself: out lo, so only the global limit applies.
    assert b.ping("r", "10.9.1.1", count=20, interval=0.01).received == 20


def test_a_type_the_mask_leaves_out_is_not_limited(b: SimBackend) -> None:
    b.sysctl_set("r", "net.ipv4.icmp_ratemask", str(6168 & ~(1 << ICMP_DEST_UNREACH)))
    assert _errors(b, "rc1", count=20) == 20


def _send_errors(b: SimBackend, type: int, code: int, n: int, src: str = "10.9.1.2",
                 monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    """icmp_send `n` times in r about a ping from `src` that came in on e1; how many went."""
    r = b.world.ns("r")
    sent = []
    assert monkeypatch is not None
    original = ipv4.ip_local_out

    def counting(world: object, ns: object, packet: IPv4) -> bool:
        sent.append(packet)
        return original(world, ns, packet)  # type: ignore[arg-type]

    monkeypatch.setattr(ipv4, "ip_local_out", counting)
    for seq in range(n):
        offending = IPv4(parse_ip(src), parse_ip("10.9.1.1"), IPPROTO_ICMP,
                         Icmp(ICMP_ECHO, 0, 1, seq))
        ipv4.icmp_error(b.world, r, offending, type, code, indev=r.devices["e1"])
    monkeypatch.undo()
    return len(sent)


def test_fragmentation_needed_is_never_limited(b: SimBackend,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert _send_errors(b, ICMP_DEST_UNREACH, 4, 20, monkeypatch=monkeypatch) == 20
    assert _send_errors(b, ICMP_DEST_UNREACH, 1, 20, monkeypatch=monkeypatch) == 6
    # Types above NR_ICMP_TYPES are never limited either, whatever the mask.
    b.sysctl_set("r", "net.ipv4.icmp_ratemask", "-1")
    assert _send_errors(b, 19, 0, 20, "10.9.1.3", monkeypatch=monkeypatch) == 20


def test_no_route_spends_the_peer_twice(b: SimBackend) -> None:
    # ip_error's own limit (5 s of burst, 1 s each) and then icmp_send's (1 s each), on the
    # same peer's tokens: 2 errors; the kernel printed "+2 errors" (icmp_ratelimit.out).
    assert _errors(b, "rc1", dst="203.0.113.9") == 2
    # With icmp_ratelimit 0, ip_error's burst alone: 5.
    b.sysctl_set("r", "net.ipv4.icmp_ratelimit", "0")
    assert _errors(b, "rc2", dst="203.0.113.9") == 5


# -- the global bucket ----------------------------------------------------------------------
def test_the_global_bucket_lets_a_burst_of_50_go_then_20_every_20_ms() -> None:
    limits = IcmpLimits()
    now = 1000 * HZ

    def burst(at: int) -> int:
        n = 0
        while limits.global_allow(at, 1000, 50):
            limits.global_consume()
            n += 1
        return n

    assert burst(now) == 50  # the mean of the kernel's 0-2 credits a message: 1
    assert burst(now + HZ // 50 - 1) == 0  # no refill before HZ/50 jiffies
    assert burst(now + HZ // 50) == 1000 * (HZ // 50) // HZ  # 20
    assert burst(now + 10 * HZ) == 50  # capped at the burst


def test_the_global_bucket_limits_errors_to_many_peers(
        b: SimBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = sum(_send_errors(b, ICMP_DEST_UNREACH, 1, 1, f"10.9.1.{host}",
                            monkeypatch=monkeypatch) for host in range(2, 82))
    assert sent == 50
    b.sysctl_set("r", "net.ipv4.icmp_msgs_burst", "100")
    b.sleep(1.0)
    sent = sum(_send_errors(b, ICMP_DEST_UNREACH, 1, 1, f"10.9.1.{host}",
                            monkeypatch=monkeypatch) for host in range(100, 250))
    assert sent == 100


def test_a_zero_burst_still_lets_one_message_go_each_refill() -> None:
    # icmp_global_allow answers yes whenever it refills, even to a credit of 0.
    limits = IcmpLimits()
    assert limits.global_allow(0, 1000, 0)
    limits.global_consume()
    assert not limits.global_allow(1, 1000, 0)
    assert limits.global_allow(HZ // 50 + 1, 1000, 0)


def test_a_new_peer_has_a_full_burst_even_at_time_zero() -> None:
    limits = IcmpLimits()
    allowed = [limits.xrlim_allow(1, 0, HZ) for _ in range(8)]
    assert allowed == [True] * 6 + [False] * 2


# -- the sysctls ----------------------------------------------------------------------------
@pytest.mark.parametrize(("written", "read"), [
    ("1001", "1004"), ("1", "4"), ("7", "8"), ("0", "0"), ("1000", "1000"),
    ("2147483647", "2147483648"), ("99999999999", "1215752192"),
])
def test_icmp_ratelimit_reads_back_in_whole_jiffies(b: SimBackend, written: str,
                                                    read: str) -> None:
    b.sysctl_set("r", "net.ipv4.icmp_ratelimit", written)
    assert b.sysctl_get("r", "net.ipv4.icmp_ratelimit") == read


@pytest.mark.parametrize(("key", "value"), [
    ("net.ipv4.icmp_ratelimit", "-1"), ("net.ipv4.icmp_ratelimit", "2147483648"),
    ("net.ipv4.icmp_ratemask", "2147483648"), ("net.ipv4.icmp_msgs_per_sec", "-1"),
    ("net.ipv4.icmp_msgs_burst", "-1"), ("net.ipv4.icmp_msgs_burst", "2147483648"),
])
def test_values_the_proc_handlers_refuse_are_einval(b: SimBackend, key: str,
                                                    value: str) -> None:
    before = b.sysctl_get("r", key)
    with pytest.raises(CtrnetError) as caught:
        b.sysctl_set("r", key, value)
    assert caught.value.errno == errno.EINVAL
    assert b.sysctl_get("r", key) == before


def test_the_sysctls_have_the_kernels_defaults_in_every_namespace(b: SimBackend) -> None:
    b.sysctl_set("r", "net.ipv4.icmp_ratemask", "-1")
    for ns in ("r", "rc1", "host"):
        got = {key: b.sysctl_get(ns, key) for key in icmplimit.DEFAULTS}
        expected = dict(icmplimit.DEFAULTS)
        if ns == "r":
            expected["net.ipv4.icmp_ratemask"] = "-1"
        assert got == expected


# -- kept with the world --------------------------------------------------------------------
def test_a_saved_world_keeps_its_empty_buckets(b: SimBackend) -> None:
    assert _errors(b, "rc1") == 6
    loaded = persist.loads(persist.dumps(b))
    assert _errors(loaded, "rc1", count=3) == 0
    loaded.sleep(1.0)
    assert _errors(loaded, "rc1", count=3) == 1


def test_a_world_saved_before_the_limits_loads_with_fresh_ones() -> None:
    data = persist.dumps(_world())
    document = json.loads(data)
    for entry in document["objects"]:
        if entry.get("class") == "ctrnet.backends.sim.devices:Namespace":
            del entry["state"]["icmp"]
    old = persist.loads(json.dumps(document).encode())
    assert all(isinstance(ns.icmp, IcmpLimits) for ns in old.world.namespaces.values())
    assert _errors(old, "rc1") == 6


def test_trace_says_whether_the_error_went(b: SimBackend) -> None:
    def verdict(client: str) -> str:
        trace = b.trace(client, "203.0.113.9")
        return next(h.detail for h in trace.hops if h.ns == "r" and "no route" in h.detail)

    assert verdict("rc2").endswith("ICMP net unreachable sent back")
    assert _errors(b, "rc1", dst="203.0.113.9") == 2
    assert verdict("rc1").endswith(
        "ICMP net unreachable not sent (rate limit of ICMP errors to 10.9.1.2)")
    b.sleep(2.0)
    assert verdict("rc1").endswith("sent back")


def test_icmp_echo_ignore_all_answers_no_echo_request(b: SimBackend) -> None:
    b.iptables_restore("r", "*filter\nCOMMIT\n", noflush=False)
    b.sysctl_set("r", "net.ipv4.icmp_echo_ignore_all", "1")
    assert b.ping("rc1", "10.9.1.1").received == 0
    assert b.ping("r", "10.9.1.1").received == 0
    b.sysctl_set("r", "net.ipv4.icmp_echo_ignore_all", "0")
    assert b.ping("rc1", "10.9.1.1").received == 1
    for key in ("net.ipv4.icmp_echo_ignore_all", "net.ipv4.icmp_echo_ignore_broadcasts"):
        with pytest.raises(CtrnetError) as caught:
            b.sysctl_set("r", key, "2")
        assert caught.value.errno == errno.EINVAL
