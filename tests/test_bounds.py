"""Bounds: a subnet must be a usable container network, rates, MTUs and ports stay within what
the kernel takes, IPAM memory follows the addresses in use (not the subnet), and the
simulator's `tc` answers an out-of-range tbf value as the real tc 6.1 does."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tracemalloc
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrnet.backend import Backend
from ctrnet.cli_network import parse_rate
from ctrnet.cmdline import Context, dispatch
from ctrnet.errors import InvalidConfig
from ctrnet.ipam import MIN_PREFIXLEN, Allocator, PoolConfig
from ctrnet.ipam_runs import TakenRuns
from ctrnet.ipam_store import MemoryStore
from ctrnet.netfilter.ruleset import Ruleset
from ctrnet.network import (
    MAX_RATE_BPS,
    EndpointSpec,
    FieldError,
    NetworkSpec,
    PortMapping,
)

# -- subnets --------------------------------------------------------------------------------


@pytest.mark.parametrize(("subnet", "why"), [
    ("0.0.0.0/0", "too large"),
    ("0.0.0.1/0", "too large"),
    ("128.0.0.0/1", "too large"),
    ("10.0.0.0/7", "too large"),
    ("0.0.0.0/8", "'this network'"),
    ("0.1.2.0/24", "'this network'"),
    ("127.0.0.0/8", "loopback"),
    ("127.5.0.0/16", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("169.254.7.0/24", "link-local"),
    ("224.0.0.0/8", "multicast"),
    ("239.1.0.0/16", "multicast"),
    ("240.0.0.0/8", "reserved"),
    ("255.255.255.0/24", "reserved"),
    ("10.0.0.0/31", "too small"),
    ("10.0.0.1/24", "host bits"),
])
def test_an_unusable_subnet_is_refused_naming_why(subnet: str, why: str) -> None:
    with pytest.raises(FieldError, match="^subnet: ") as caught:
        NetworkSpec(name="web", subnet=subnet)
    assert why in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("subnet", [
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "198.51.100.0/24",
    "126.0.0.0/8", "128.0.0.0/8", "169.253.0.0/16", "223.255.255.0/24", "10.1.2.0/30",
])
def test_a_usable_subnet_is_accepted(subnet: str) -> None:
    assert NetworkSpec(name="web", subnet=subnet).subnet == subnet


def test_the_shortest_prefix_is_documented_as_8() -> None:
    assert MIN_PREFIXLEN == 8


# -- IPAM memory ----------------------------------------------------------------------------


def _allocator_bytes(subnet: str, in_use: int) -> int:
    tracemalloc.start()
    try:
        pool = Allocator(PoolConfig.create("mem", subnet), MemoryStore())
        for i in range(in_use):
            pool.allocate(f"c{i}")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ipam_memory_follows_addresses_in_use_not_the_subnet_size() -> None:
    small, large = _allocator_bytes("10.0.0.0/22", 200), _allocator_bytes("10.0.0.0/8", 200)
    # A byte per address would be 16 MiB for the /8; runs cost the same for both.
    assert large < 2 * small and large < 1 << 20


def test_a_slash_8_hands_out_addresses_in_order_and_reuses_a_freed_one_after_going_round(
        ) -> None:
    pool = Allocator(PoolConfig.create("big", "10.0.0.0/8"), MemoryStore())
    assert [str(pool.allocate(f"c{i}")) for i in range(3)] == [
        "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    pool.release("c1")
    assert str(pool.allocate("c3")) == "10.0.0.5"  # round-robin: not the freed one at once
    assert pool.in_use == 3


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 63)), max_size=120),
       st.integers(0, 70))
def test_taken_runs_agree_with_a_set(ops: list[tuple[bool, int]], start: int) -> None:
    runs, model = TakenRuns(64), set[int]()
    for take, index in ops:
        changed = runs.add(index) if take else runs.discard(index)
        assert changed == ((index not in model) if take else (index in model))
        (model.add if take else model.discard)(index)
    assert len(runs) == len(model) and all((i in runs) == (i in model) for i in range(64))
    free = [i for i in range(64) if i not in model]
    expected = next((i for i in free if i >= start), free[0] if free else None)
    assert runs.next_free(start) == expected


# -- rates, MTUs, ports ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "0", "7999", "7kbit", "-1mbit", "1e3mbit",
                                  "10 parsecs", "34359738361", "35gbit", "9" * 400,
                                  "٣٣mbit", "10mbit/s", "nan", "inf"])
def test_a_rate_out_of_range_or_unparsable_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(InvalidConfig, match="^rate ") as caught:
        parse_rate(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "bps"), [
    ("8000", 8000), ("10mbit", 10_000_000), ("8.5kbit", 8500), ("125000bps", 1_000_000),
    ("34359738360", MAX_RATE_BPS), ("1gbit", 10**9), (" 2MBit ", 2_000_000),
])
def test_a_rate_in_range_is_read_as_tc_reads_it(text: str, bps: int) -> None:
    assert parse_rate(text) == bps


@pytest.mark.parametrize("rate", [0, 7999, MAX_RATE_BPS + 1, -8000])
def test_an_endpoint_rate_outside_the_kernels_range_is_refused(rate: int) -> None:
    with pytest.raises(FieldError, match="^egress_bps: .*out of range"):
        EndpointSpec(container="c1", network="web", egress_bps=rate)


@pytest.mark.parametrize(("mtu", "ok"), [(67, False), (68, True), (1500, True), (65535, True),
                                         (65536, False), (0, False), (-1, False)])
def test_mtu_is_bounded_by_the_veth_and_bridge_min_and_max_mtu(mtu: int, ok: bool) -> None:
    if ok:
        assert NetworkSpec(name="web", subnet="10.9.0.0/24", mtu=mtu).mtu == mtu
    else:
        with pytest.raises(FieldError, match="^mtu: .*68-65535"):
            NetworkSpec(name="web", subnet="10.9.0.0/24", mtu=mtu)


@pytest.mark.parametrize("text", ["0:80", "80:0", "65536:80", "80:65536", "-1:80",
                                  "99999999999999999999:80", "80:80/sctp", "80", ":80"])
def test_a_port_outside_1_to_65535_or_malformed_is_refused(text: str) -> None:
    with pytest.raises(FieldError, match="^ports"):
        PortMapping.parse(text)


# -- the simulator's tc command line --------------------------------------------------------

#: (tbf arguments, the real tc 6.1's exit status, the start of its stderr). Each was run
#: against iproute2 6.1 on Linux 6.18; `test_the_real_tc_says_the_same` checks them again.
USAGE = "Usage: ... tbf limit BYTES"
TBF_CASES = [
    ("rate 1mbit burst 99999999999999999999 latency 50ms", 1,
     'tbf: illegal value for "burst": "99999999999999999999"\n'),
    ("rate 1mbit burst 4294967296 latency 50ms", 1,
     'tbf: illegal value for "burst": "4294967296"\n'),
    ("rate 1mbit burst 4gb latency 50ms", 1, 'tbf: illegal value for "burst": "4gb"\n'),
    ("rate 1mbit buffer abc latency 50ms", 1, 'tbf: illegal value for "buffer": "abc"\n'),
    ("rate abc burst 10kb latency 50ms", 1, 'tbf: illegal value for "rate": "abc"\n'),
    ("rate 1mbit burst 10kb latency abc", 1, 'tbf: illegal value for "latency": "abc"\n'),
    ("rate 1mbit burst 10kb limit 4294967296", 1,
     'tbf: illegal value for "limit": "4294967296"\n'),
    ("rate 0bit burst 10kb latency 50ms", 1, 'tbf: the "rate" parameter is mandatory.\n'),
    ("rate 7bit burst 10kb latency 50ms", 1, 'tbf: the "rate" parameter is mandatory.\n'),
    ("rate 99999999999999999999999bit burst 10kb latency 50ms", 1,
     'tbf: the "rate" parameter is mandatory.\n'),
    ("rate 1mbit burst 0 latency 50ms", 1, 'tbf: the "burst" parameter is mandatory.\n'),
    ("rate 1mbit burst 10kb latency 0", 1, 'tbf: either "limit" or "latency" is required.\n'),
    ("rate 1mbit burst 10kb latency 99999999999999s", 1,
     'tbf: either "limit" or "latency" is required.\n'),
    ("rate 1mbit burst 10kb latency 8589934592us", 1,
     'tbf: either "limit" or "latency" is required.\n'),
    ("rate 1mbit rate 2mbit burst 10kb latency 5ms", 1, 'tbf: duplicate "rate" specification\n'),
    ("rate 1mbit burst 10kb burst 5kb latency 5ms", 1,
     'tbf: duplicate "buffer/burst/maxburst" specification\n'),
    ("rate 1mbit burst 10kb limit 10kb latency 5ms", 1,
     'tbf: specifying both "limit" and "/latency" is not allowed\n'),
    ("rate 1mbit burst 10kb latency 5ms limit 10kb", 1,
     'tbf: specifying both "latency" and "limit" is not allowed\n'),
    ("rate 1mbit burst 10kb latency", 255, 'Command line is not complete. Try option "help"\n'),
    ("rate 10gbit burst 1gb latency 5ms", 0, ""),
    ("rate 1kbit burst 1 latency 5ms", 0, ""),
    ("rate 1mbit burst 10kb latency 4294967295us", 0, ""),
]


def _sim_tc(backend: Backend, args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(backend, stdout=out, stderr=err, env={}).in_namespace("probe")
    status = dispatch("tc", ["qdisc", "replace", "dev", "lo", "root", "tbf", *args.split()],
                      ctx)
    return status, err.getvalue()


@pytest.mark.requires("tc")
@pytest.mark.parametrize(("args", "status", "message"), TBF_CASES)
def test_the_simulators_tc_answers_a_bad_tbf_value_as_the_real_one(
        backend: Backend, args: str, status: int, message: str) -> None:
    backend.netns_add("probe")
    backend.link_set_up("probe", "lo")
    got_status, got_err = _sim_tc(backend, args)
    assert (got_status, got_err.startswith(message)) == (status, True), got_err
    if message.endswith("mandatory.\n") or message.endswith("required.\n"):
        assert USAGE in got_err


@pytest.mark.requires("tc")
@pytest.mark.parametrize("args", ["rate 1mbit burst 4294967295 latency 5ms",
                                  "rate 8bit burst 10kb latency 5ms"])
def test_a_burst_whose_transmit_time_tc_would_wrap_is_refused_loudly(
        backend: Backend, args: str) -> None:
    # The real tc takes these and wraps the burst's 32-bit transmit time; not modelled.
    backend.netns_add("probe")
    backend.link_set_up("probe", "lo")
    status, err = _sim_tc(backend, args)
    assert status != 0 and "not supported" in err and "wraps" in err, err


def _real_tc_usable() -> bool:
    return os.geteuid() == 0 and shutil.which("tc") is not None and shutil.which("ip") is not None


@pytest.mark.skipif(not _real_tc_usable(), reason="needs root, ip and tc")
def test_the_real_tc_says_the_same() -> None:
    """The table above, against the real tc in a namespace made for it (and removed)."""
    ns = f"ctrnet-probe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for args, status, message in TBF_CASES:
            subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "lo",
                            "root"], capture_output=True)
            real = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev",
                                   "lo", "root", "tbf", *args.split()],
                                  capture_output=True, text=True)
            assert (real.returncode, real.stderr.startswith(message)) == (status, True), (
                args, real.stderr)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


# -- the simulator's ip link set mtu ----------------------------------------------------------

#: (value, the real ip's exit status, the start of its stderr) for `ip link set br0 mtu VALUE`
#: on a bridge (iproute2 6.1, Linux 6.18): get_integer() reads a C int as strtol does, the
#: kernel judges it against the device's min_mtu (68) and max_mtu (65535).
MTU_CASES = [
    ("-1", 2, "Error: mtu less than device minimum.\n"),
    ("67", 2, "Error: mtu less than device minimum.\n"),
    ("010", 2, "Error: mtu less than device minimum.\n"),  # octal 8
    ("65536", 2, "Error: mtu greater than device maximum.\n"),
    ("2147483647", 2, "Error: mtu greater than device maximum.\n"),
    ("-2147483648", 2, "Error: mtu less than device minimum.\n"),
    ("2147483648", 255, 'Error: argument "2147483648" is wrong: Invalid "mtu" value\n'),
    ("99999999999", 255, 'Error: argument "99999999999" is wrong: Invalid "mtu" value\n'),
    ("-2147483649", 255, 'Error: argument "-2147483649" is wrong: Invalid "mtu" value\n'),
    ("08", 255, 'Error: argument "08" is wrong: Invalid "mtu" value\n'),
    ("1500 ", 255, 'Error: argument "1500 " is wrong: Invalid "mtu" value\n'),
    ("0x", 255, 'Error: argument "0x" is wrong: Invalid "mtu" value\n'),
    ("", 255, 'Error: argument "" is wrong: Invalid "mtu" value\n'),
    ("0x5dc", 0, ""),
    (" 1500", 0, ""),
    ("+1500", 0, ""),
    ("65535", 0, ""),
    ("68", 0, ""),
]


@pytest.mark.parametrize(("value", "status", "message"), MTU_CASES)
def test_the_simulators_ip_reads_an_mtu_as_the_real_one(
        backend: Backend, value: str, status: int, message: str) -> None:
    backend.netns_add("probe")
    backend.bridge_add("probe", "br0")
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(backend, stdout=out, stderr=err, env={}).in_namespace("probe")
    got = dispatch("ip", ["link", "set", "br0", "mtu", value], ctx)
    assert (got, err.getvalue().startswith(message)) == (status, True), err.getvalue()


@pytest.mark.skipif(not _real_tc_usable(), reason="needs root and ip")
def test_the_real_ip_reads_an_mtu_so() -> None:
    ns = f"ctrnet-probe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "add", "br0", "type", "bridge"], check=True)
        for value, status, message in MTU_CASES:
            real = subprocess.run(["ip", "-n", ns, "link", "set", "br0", "mtu", value],
                                  capture_output=True, text=True)
            assert (real.returncode, real.stderr.startswith(message)) == (status, True), (
                value, real.stderr)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


# -- the simulator's iptables: ports of a DNAT target -----------------------------------------

#: (--to-destination, the start of the real iptables 1.8.9's stderr, "" when it is accepted).
NAT_PORT_CASES = [
    ("10.0.0.2:80-70000", "iptables v1.8.9 (nf_tables): Port `70000' not valid\n"),
    ("10.0.0.2:-5", "iptables v1.8.9 (nf_tables): Port `-5' not valid\n"),
    ("10.0.0.2:", "iptables v1.8.9 (nf_tables): Port `' not valid\n"),
    ("10.0.0.2:90-80", "iptables v1.8.9 (nf_tables): Port range `80' funky\n"),
    ("10.0.0.2:0", ""),
    ("10.0.0.2:65535", ""),
]
_DNAT = ["-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "80", "-j", "DNAT",
         "--to-destination"]


@pytest.mark.requires("iptables")
@pytest.mark.parametrize(("target", "message"), NAT_PORT_CASES)
def test_the_simulators_iptables_refuses_a_nat_port_as_the_real_one(
        backend: Backend, target: str, message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    rules = Ruleset()
    ctx = Context(backend, stdout=out, stderr=err, env={}, ruleset_hook=lambda ns: rules)
    status = dispatch("iptables", [*_DNAT, target], ctx)
    assert (status, err.getvalue().startswith(message)) == (2 if message else 0, True), (
        err.getvalue())


@pytest.mark.skipif(not _real_tc_usable() or shutil.which("iptables") is None,
                    reason="needs root, ip and iptables")
def test_the_real_iptables_refuses_a_nat_port_so() -> None:
    ns = f"ctrnet-probe-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for target, message in NAT_PORT_CASES:
            real = subprocess.run(["ip", "netns", "exec", ns, "iptables", *_DNAT, target],
                                  capture_output=True, text=True)
            assert (real.returncode, real.stderr.startswith(message)) == (
                2 if message else 0, True), (target, real.stderr)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
