"""The simulator refuses loudly a sysctl value whose effect it does not model, rather than storing
it and answering as if it had not been written; the default value, and values that cannot
change any answer it gives, are still accepted.

Through the Backend API the refusal is a NotModelled (EOPNOTSUPP); through the simulated shell
it is `ctrnet sim: sysctl: KEY=VALUE (…) is not supported`, exit 2, and nothing is stored.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from ctrnet.backends.sim import SimBackend
from ctrnet.cmdline import Context, dispatch
from ctrnet.errors import CtrnetError, NotModelled

#: (key, value written) -> refused: a value whose effect the simulator does not model.
REFUSED = [
    ("net.ipv4.conf.all.rp_filter", "1"),
    ("net.ipv4.conf.all.rp_filter", "2"),
    ("net.ipv4.conf.default.rp_filter", "2"),
    ("net.ipv4.conf.eth0.rp_filter", "1"),
    ("net.ipv4.conf.all.route_localnet", "1"),
    ("net.ipv4.conf.eth0.route_localnet", "1"),
    ("net.ipv4.conf.all.proxy_arp", "1"),
    ("net.ipv4.conf.eth0.proxy_arp", "1"),
    ("net.ipv4.conf.all.arp_ignore", "1"),
    ("net.ipv4.conf.eth0.arp_announce", "2"),
    ("net.ipv4.conf.all.arp_accept", "1"),
    ("net.ipv4.conf.all.promote_secondaries", "1"),
    ("net.ipv4.conf.default.accept_local", "1"),
    ("net.ipv4.conf.default.forwarding", "1"),  # ip_forward is 0
    ("net.ipv4.icmp_echo_ignore_broadcasts", "0"),
    ("net.ipv4.ip_default_ttl", "32"),
    ("net.ipv6.conf.all.disable_ipv6", "0"),
    ("net.ipv6.conf.default.disable_ipv6", "0"),
    ("net.ipv6.conf.eth0.disable_ipv6", "0"),
    ("net.ipv6.conf.all.forwarding", "1"),
]

#: (key, value written) -> accepted: the default, or a value the simulator models, or one
#: that cannot change any of its answers.
ACCEPTED = [
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.eth0.rp_filter", "0"),
    ("net.ipv4.conf.all.route_localnet", "0"),
    ("net.ipv4.conf.all.proxy_arp", "0"),
    ("net.ipv4.conf.all.send_redirects", "1"),
    ("net.ipv4.conf.all.accept_local", "1"),  # modelled (IN_DEV_ORCONF)
    ("net.ipv4.conf.eth0.accept_local", "1"),
    ("net.ipv4.conf.default.forwarding", "0"),
    ("net.ipv4.icmp_echo_ignore_broadcasts", "1"),
    ("net.ipv4.ip_default_ttl", "64"),
    ("net.ipv6.conf.all.disable_ipv6", "1"),
    ("net.ipv6.conf.eth0.disable_ipv6", "1"),
    ("net.ipv6.conf.all.forwarding", "0"),
    # No IPv6 frame exists in the simulator and ip6tables, arptables and nft are refused:
    # no value of these can change what it answers.
    ("net.bridge.bridge-nf-call-ip6tables", "0"),
    ("net.bridge.bridge-nf-call-arptables", "0"),
    ("net.bridge.bridge-nf-call-ip6tables", "1"),
]


@pytest.fixture
def b() -> Iterator[SimBackend]:
    backend = SimBackend(seed=3)
    backend.netns_add("c")
    backend.netns_add("d")
    backend.veth_add("c", "eth0", "eth0", "d")
    yield backend
    backend.close()


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [f"{key}={value}" for key, value in cases]


@pytest.mark.parametrize(("key", "value"), REFUSED, ids=_ids(REFUSED))
def test_the_backend_refuses_a_value_it_does_not_model(b: SimBackend, key: str,
                                                       value: str) -> None:
    before = b.sysctl_get("c", key)
    with pytest.raises(NotModelled) as refused:
        b.sysctl_set("c", key, value)
    assert refused.value.errno == errno.EOPNOTSUPP
    assert str(refused.value).startswith(f"{key}={value}: the simulator does not model ")
    assert refused.value.message_ja and key in refused.value.message_ja
    assert b.sysctl_get("c", key) == before  # nothing stored


@pytest.mark.parametrize(("key", "value"), ACCEPTED, ids=_ids(ACCEPTED))
def test_the_backend_accepts_a_value_it_models(b: SimBackend, key: str, value: str) -> None:
    b.sysctl_set("c", key, value)
    assert b.sysctl_get("c", key) == value


def test_a_range_error_stays_the_kernels_einval(b: SimBackend) -> None:
    with pytest.raises(CtrnetError) as bad:
        b.sysctl_set("c", "net.ipv4.ip_default_ttl", "0")  # proc_dointvec_minmax 1..255
    assert bad.value.errno == errno.EINVAL


def test_a_device_reads_conf_default_until_its_own_value_is_written(b: SimBackend) -> None:
    # devinet_copy_dflt_conf (checked on 6.18): a write to conf.default reaches every device
    # whose own value was never written, and the devices made later.
    b.sysctl_set("c", "net.ipv4.conf.lo.send_redirects", "1")
    b.sysctl_set("c", "net.ipv4.conf.default.send_redirects", "0")
    assert b.sysctl_get("c", "net.ipv4.conf.eth0.send_redirects") == "0"
    assert b.sysctl_get("c", "net.ipv4.conf.lo.send_redirects") == "1"
    b.veth_add("c", "eth1", "eth1", "d")
    assert b.sysctl_get("c", "net.ipv4.conf.eth1.send_redirects") == "0"


def test_an_address_makes_a_devices_values_its_own(b: SimBackend) -> None:
    # ipv4_devconf_setall (checked on 6.18): once a device has had an IPv4 address (lo: once
    # up), conf.default no longer reaches it, even after the address is gone.
    b.addr_add("c", "eth0", "10.9.0.1/24")
    b.addr_delete("c", "eth0", "10.9.0.1/24")
    b.link_set_up("c", "lo")
    b.sysctl_set("c", "net.ipv4.conf.default.send_redirects", "0")
    assert b.sysctl_get("c", "net.ipv4.conf.eth0.send_redirects") == "1"
    assert b.sysctl_get("c", "net.ipv4.conf.lo.send_redirects") == "1"
    b.sysctl_set("c", "net.ipv4.conf.default.send_redirects", "1")
    b.addr_add("c", "eth0", "10.9.0.1/24")  # values of its own already: nothing changes
    assert b.sysctl_get("c", "net.ipv4.conf.eth0.send_redirects") == "1"


def _shell(b: SimBackend, argv: list[str]) -> tuple[int, str, str]:
    ctx = Context(b, "c", stdout=io.StringIO(), stderr=io.StringIO())
    status = dispatch("sysctl", argv, ctx)
    return status, ctx.stdout.getvalue(), ctx.stderr.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("key", "value"), REFUSED, ids=_ids(REFUSED))
def test_the_shell_refuses_it_loudly_naming_key_value_and_what(b: SimBackend, key: str,
                                                               value: str) -> None:
    status, out, err = _shell(b, ["-w", f"{key}={value}"])
    assert status == 2
    assert out == ""
    assert err.startswith(f"ctrnet sim: sysctl: {key}={value} (the simulator does not model ")
    assert err.endswith(") is not supported\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(("key", "value"), ACCEPTED, ids=_ids(ACCEPTED))
def test_the_shell_writes_a_value_it_models(b: SimBackend, key: str, value: str) -> None:
    assert _shell(b, ["-w", f"{key}={value}"]) == (0, f"{key} = {value}\n", "")


def test_ctrnet_sim_exec_refuses_with_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    run = subprocess.run(
        [sys.executable, "-m", "ctrnet.cli", "sim", "exec", "--", "sh", "-c",
         "sysctl -w net.ipv4.conf.all.rp_filter=1; echo status=$?; "
         "sysctl -n net.ipv4.conf.all.rp_filter"],
        capture_output=True, text=True, timeout=60, env=env)
    assert run.stdout == "status=2\n0\n"
    assert run.stderr == ("ctrnet sim: sysctl: net.ipv4.conf.all.rp_filter=1 (the simulator "
                          "does not model reverse path filtering) is not supported\n")
