"""`ctrnet doctor` on a Docker-like host (conformance.backend.topology.nat_topology, made
healthy: MASQUERADE, a default route to the wan, resolv.conf for the containers): a clean
bill first, then each usual mistake made on purpose and named by the doctor.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable

import pytest

from ctrnet.backend import LAUNCH_IN_NAMESPACE, Backend
from ctrnet.conformance.backend.topology import (
    BRIDGE,
    GATEWAY,
    SUBNET,
    UPLINK,
    WAN_IP,
    NatTopology,
    nat_topology,
)
from ctrnet.errors import NotFound
from ctrnet.troubleshoot.checks import diagnose
from ctrnet.troubleshoot.doctor import Container, Net, Report

pytestmark = pytest.mark.requires("iptables")

MASQUERADE = f"-A POSTROUTING -s {SUBNET} ! -o {BRIDGE} -j MASQUERADE"


def healthy(backend: Backend) -> NatTopology:
    topo = nat_topology(backend)
    backend.iptables_restore(topo.host, f"*nat\n{MASQUERADE}\nCOMMIT\n")
    backend.route_add(topo.host, "default", gateway=WAN_IP)
    for c in (topo.c1, topo.c2):
        backend.etc_write(c.ns, "resolv.conf", "nameserver 198.51.100.53\n")
    return topo


def real(backend: Backend, ns: str) -> str:
    """How the user names `ns` in a command: the kernel's namespaces carry a world prefix."""
    if LAUNCH_IN_NAMESPACE in backend.capabilities:
        return os.path.basename(backend.netns_path(ns))
    return ns


def network(topo: NatTopology) -> Net:
    return Net("web", BRIDGE, SUBNET, GATEWAY, True, tuple(
        Container(c.ns, "eth0", c.port, c.ip) for c in (topo.c1, topo.c2)))


def examine(backend: Backend, topo: NatTopology) -> Report:
    return diagnose(backend, [network(topo)])


def test_a_healthy_network_gets_a_clean_bill(backend: Backend) -> None:
    topo = healthy(backend)
    report = examine(backend, topo)
    assert report.findings == []
    assert len(report.checks) >= 11


def test_discovery_finds_the_bridge_and_its_containers(backend: Backend) -> None:
    topo = healthy(backend)
    assert diagnose(backend).healthy
    report = diagnose(backend)
    assert report.scope == "all networks"
    backend.link_set_up(topo.c2.ns, "eth0", False)
    assert [f.check for f in diagnose(backend).findings] == ["veth-down"]


def _stp_listening(backend: Backend, topo: NatTopology) -> None:
    backend.bridge_set(topo.host, BRIDGE, stp_state=1)
    backend.link_set_up(topo.host, topo.c1.port, False)
    backend.link_set_up(topo.host, topo.c1.port)  # re-enabled: LISTENING for forward_delay


def _forward_drop(backend: Backend, topo: NatTopology) -> None:
    backend.sysctl_set(topo.host, "net.bridge.bridge-nf-call-iptables", "1")
    backend.iptables_restore(topo.host, "*filter\n:FORWARD DROP [0:0]\nCOMMIT\n")


def _wrong_masquerade(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, "*nat\n-F POSTROUTING\n"
                             f"-A POSTROUTING -s 10.9.0.0/24 -o {UPLINK} -j MASQUERADE\n"
                             "COMMIT\n")


def _resolv_conf(text: str) -> Breakage:
    def breakage(backend: Backend, topo: NatTopology) -> None:
        backend.etc_write(topo.c1.ns, "resolv.conf", text)

    return breakage


def _forward_drop_routed(backend: Backend, topo: NatTopology) -> None:
    backend.iptables_restore(topo.host, "*filter\n:FORWARD DROP [0:0]\nCOMMIT\n")


def _bridge_without_gateway(backend: Backend, topo: NatTopology) -> None:
    backend.addr_delete(topo.host, BRIDGE, f"{GATEWAY}/24")


def _wrong_gateway(backend: Backend, topo: NatTopology) -> None:
    backend.route_delete(topo.c1.ns, "default", gateway=GATEWAY)
    backend.route_add(topo.c1.ns, "default", gateway="172.20.0.254")


Breakage = Callable[[Backend, NatTopology], None]
BREAKAGES: dict[str, tuple[Breakage, str, str]] = {
    "ip_forward off": (lambda b, t: b.sysctl_set(t.host, "net.ipv4.ip_forward", "0"),
                       "ip-forward-off", "sysctl -w net.ipv4.ip_forward=1"),
    "masquerade missing": (lambda b, t: b.iptables_restore(t.host, "*nat\n-F POSTROUTING\n"
                                                           "COMMIT\n"),
                           "masquerade-missing", "-j MASQUERADE"),
    "masquerade for another subnet": (_wrong_masquerade, "masquerade-missing",
                                      f"-s {SUBNET}"),
    "resolv.conf without nameserver": (_resolv_conf("search example.org\n"),
                                       "resolv-conf-no-nameserver", "resolv.conf"),
    "resolv.conf with a loopback resolver": (_resolv_conf("nameserver 127.0.0.53\n"),
                                             "resolv-conf-no-nameserver", "nameserver"),
    "forward drop without br_netfilter": (_forward_drop_routed, "forward-drop",
                                          f"-i {BRIDGE} ! -o {BRIDGE} -j ACCEPT"),
    "bridge without its gateway address": (_bridge_without_gateway,
                                           "bridge-no-gateway-address",
                                           f"addr add {GATEWAY}/24 dev {BRIDGE}"),
    "container end in the host": (lambda b, t: b.link_set_netns(t.c1.ns, "eth0", t.host),
                                  "veth-wrong-namespace", "netns {c1}"),
    "host end in a container": (lambda b, t: b.link_set_netns(t.host, t.c1.port, t.c2.ns),
                                "veth-wrong-namespace", "link set veth1 netns "),
    "host end not enslaved": (lambda b, t: b.link_set_master(t.host, t.c1.port, None),
                              "veth-not-enslaved", f"master {BRIDGE}"),
    "container end down": (lambda b, t: b.link_set_up(t.c1.ns, "eth0", False),
                           "veth-down", "ip -n {c1} link set eth0 up"),
    "host end down": (lambda b, t: b.link_set_up(t.host, t.c1.port, False),
                      "veth-down", "link set veth1 up"),
    "bridge down": (lambda b, t: b.link_set_up(t.host, BRIDGE, False),
                    "bridge-down", f"link set {BRIDGE} up"),
    "stp ports listening": (_stp_listening, "stp-ports-not-forwarding", "stp_state 0"),
    "forward drop with br_netfilter": (_forward_drop, "forward-drop",
                                       f"-i {BRIDGE} -o {BRIDGE} -j ACCEPT"),
    "no default route": (lambda b, t: b.route_delete(t.c1.ns, "default", gateway=GATEWAY),
                         "no-default-route", "ip -n {c1} route add default via " + GATEWAY),
    "address conflict": (lambda b, t: b.addr_add(t.c2.ns, "eth0", f"{t.c1.ip}/24"),
                         "address-conflict", "ip -n {c2} addr del 172.20.0.2/24 dev eth0"),
    "lo down": (lambda b, t: b.link_set_up(t.c1.ns, "lo", False), "lo-down",
                "ip -n {c1} link set lo up"),
    "no address": (lambda b, t: b.addr_delete(t.c1.ns, "eth0", f"{t.c1.ip}/24"), "no-address",
                   "ip -n {c1} addr add 172.20.0.2/24 dev eth0"),
    "wrong gateway": (_wrong_gateway, "wrong-gateway",
                      "ip -n {c1} route replace default via " + GATEWAY),
    "mtu mismatch": (lambda b, t: b.link_set_mtu(t.c1.ns, "eth0", 9000), "mtu-mismatch",
                     "ip -n {c1} link set eth0 mtu 1500"),
}


@pytest.mark.parametrize("mistake", sorted(BREAKAGES))
def test_doctor_names_the_mistake_and_its_fix(backend: Backend, mistake: str) -> None:
    topo = healthy(backend)
    breakage, check, fix = BREAKAGES[mistake]
    breakage(backend, topo)
    report = examine(backend, topo)
    named = report.named(check)
    assert named, f"{check} not found; found {[f.check for f in report.findings]}"
    fix = fix.format(c1=real(backend, topo.c1.ns), c2=real(backend, topo.c2.ns))
    assert any(fix in finding.fix for finding in named), [f.fix for f in named]
    assert not report.healthy


# -- every fix the doctor prints, applied as printed, fixes the problem ---------------------
def _run_fix_in_a_sim_shell(backend: Backend, fix: str) -> None:
    """The fix as typed in `ctrnet sim shell` on this very world: /bin/sh runs it, the
    simulated tools answer, and the run's /etc/netns is the world's (as root; without root
    those files cannot be written, as on a machine)."""
    from ctrnet.backends.sim.backend import SimBackend
    from ctrnet.backends.sim.cmdline.run import end_leftovers, in_run, simulator

    if "/etc/netns/" in fix and os.geteuid() != 0:
        pytest.skip("writing /etc/netns needs root, on the simulator as on the kernel")
    assert isinstance(backend, SimBackend)
    with simulator(None, world=backend) as (server, env):
        done = subprocess.run(in_run(server, ["/bin/sh", "-c", fix]), env=env,
                              capture_output=True, text=True, timeout=60)
        end_leftovers(server)
    assert done.returncode == 0, f"{fix!r} failed: {done.stderr}"


def _run_fix_on_kernel(backend: Backend, fix: str) -> None:
    prefix = real(backend, backend.host_ns).rsplit("-", 1)[0] + "-"
    for command in re.split(r" && |; ", fix):
        # Every command names one of this run's namespaces: typed in the root namespace
        # as printed, it acts there and nowhere else.
        assert command.startswith((f"ip -n {prefix}", f"ip netns exec {prefix}",
                                   f"mkdir -p /etc/netns/{prefix}")) or (
            command.startswith("echo ") and f"/etc/netns/{prefix}" in command), command
    done = subprocess.run(fix, shell=True, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{fix!r} failed: {done.stderr}"


def apply(backend: Backend, fix: str) -> None:
    """Run a fix exactly as the doctor printed it: in `ctrnet sim shell`'s tools on the
    simulator, in a root shell on the kernel."""
    fix = fix.split("  (")[0]  # a trailing note for the reader
    if LAUNCH_IN_NAMESPACE in backend.capabilities:
        _run_fix_on_kernel(backend, fix)
        return
    _run_fix_in_a_sim_shell(backend, fix)


def reaches(backend: Backend, ns: str, address: str) -> bool:
    return backend.ping(ns, address, count=2, timeout=1.0).received > 0


@pytest.mark.parametrize("mistake", sorted(BREAKAGES))
def test_applying_the_printed_fix_fixes_it(backend: Backend, mistake: str) -> None:
    topo = healthy(backend)
    assert reaches(backend, topo.c1.ns, WAN_IP) and reaches(backend, topo.c1.ns, topo.c2.ip)
    breakage, check, _ = BREAKAGES[mistake]
    breakage(backend, topo)
    report = examine(backend, topo)
    assert report.named(check)
    # As a learner would: apply what it printed, run it again, until it finds nothing (a
    # fix can uncover the next problem: a link brought back up has lost its routes).
    for _ in range(4):
        if report.healthy:
            break
        for finding in report.findings:
            apply(backend, finding.fix)
        report = examine(backend, topo)
    assert report.healthy, [(f.check, f.fix) for f in report.findings]
    # The traffic the mistake stopped flows again: out through NAT, and between containers.
    assert reaches(backend, topo.c1.ns, WAN_IP), f"after the fix of {mistake}"
    assert reaches(backend, topo.c1.ns, topo.c2.ip), f"after the fix of {mistake}"
    # ... and the rightful owners kept their addresses.
    for c in (topo.c1, topo.c2):
        assert [a.ip for a in backend.addr_list(c.ns, "eth0")][:1] == [c.ip]


def test_the_guides_hand_built_network_without_masquerade_is_named(backend: Backend) -> None:
    topo = nat_topology(backend)  # no MASQUERADE: what the guide's commands build before NAT
    backend.route_add(topo.host, "default", gateway=WAN_IP)
    report = diagnose(backend)  # discovered, nothing known from ctrnet's state
    [finding] = report.named("masquerade-missing")
    assert f"-s {SUBNET} ! -o {BRIDGE} -j MASQUERADE" in finding.fix
    assert not reaches(backend, topo.c1.ns, WAN_IP)
    apply(backend, finding.fix)
    assert reaches(backend, topo.c1.ns, WAN_IP)


def test_a_bridge_without_its_gateway_address_is_named_when_discovered(
        backend: Backend) -> None:
    topo = healthy(backend)
    backend.addr_delete(topo.host, BRIDGE, f"{GATEWAY}/24")
    [finding] = diagnose(backend).named("bridge-no-gateway-address")
    apply(backend, finding.fix)
    assert diagnose(backend).healthy
    assert reaches(backend, topo.c1.ns, WAN_IP)


def test_a_container_without_its_own_resolv_conf_is_not_a_problem(backend: Backend) -> None:
    topo = healthy(backend)
    backend.etc_delete(topo.c1.ns, "resolv.conf")
    report = examine(backend, topo)
    if LAUNCH_IN_NAMESPACE in backend.capabilities:
        # It falls back to the machine's /etc/resolv.conf: a problem only if that one
        # names a loopback resolver, which in the container is the container's own.
        return
    assert report.healthy, [f.check for f in report.findings]


def test_isolation_rules_without_br_netfilter_are_named_and_the_fix_makes_them_work(
        backend: Backend) -> None:
    topo = healthy(backend)
    backend.sysctl_set(topo.host, "net.bridge.bridge-nf-call-iptables", "0")
    backend.iptables_restore(topo.host, f"*filter\n-A FORWARD -i {BRIDGE} -o {BRIDGE} -j DROP\n"
                             "COMMIT\n")
    assert reaches(backend, topo.c1.ns, topo.c2.ip)  # the rule never sees bridged frames
    [finding] = examine(backend, topo).named("br-netfilter-off")
    assert "bridge-nf-call-iptables=1" in finding.fix
    apply(backend, finding.fix)
    assert not reaches(backend, topo.c1.ns, topo.c2.ip)  # now it does, as it was meant to
    report = examine(backend, topo)
    assert report.named("br-netfilter-off") == []
    [meant] = report.named("forward-rule-drops")  # named, not called an error: it may be meant
    assert meant.severity.value == "warning" and "FORWARD 1" in meant.fix


class _WithoutBrNetfilter:
    """The backend as a host without the br_netfilter module shows it: its sysctls missing."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def sysctl_get(self, ns: str, key: str) -> str:
        if key.startswith("net.bridge."):
            raise NotFound(f"sysctl {key}: no such file (br_netfilter not loaded)")
        return self._backend.sysctl_get(ns, key)

    def __getattr__(self, name: str) -> object:
        return getattr(self._backend, name)


def test_isolation_rules_without_the_br_netfilter_module_name_modprobe(
        backend: Backend) -> None:
    topo = healthy(backend)
    backend.iptables_restore(topo.host, f"*filter\n-A FORWARD -i {BRIDGE} -o {BRIDGE} -j DROP\n"
                             "COMMIT\n")
    report = diagnose(_WithoutBrNetfilter(backend), [network(topo)])  # type: ignore[arg-type]
    [finding] = report.named("br-netfilter-off")
    assert finding.fix == "modprobe br_netfilter" and "not loaded" in finding.problem
