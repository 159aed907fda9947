"""`ctrnet doctor`, `topology`, `trace` and `capture` on a network made with `ctrnet network
create` / `connect`, in one injected world, as separate invocations would see it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ctrnet.backend import LAUNCH_IN_NAMESPACE, Backend
from ctrnet.cli import main
from ctrnet.cli_network import injected
from ctrnet.troubleshoot import pcap

pytestmark = pytest.mark.requires("iptables", "ebtables")

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    state = str(tmp_path / "state")

    def run(*argv: str) -> tuple[int, str, str]:
        with injected(backend):
            code = main([*argv, "--state-dir", state, "--backend", backend.name])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("network", "create", "web", "--subnet", "10.71.0.0/24")[0] == 0
    for container in ("c1", "c2"):
        assert run("connect", "web", container, "--create-netns", "--dns", "10.71.0.1")[0] == 0
    return run


def test_doctor_gives_a_network_made_by_ctrnet_a_clean_bill(run: Run) -> None:
    code, out, _ = run("doctor")
    assert code == 0
    assert out.startswith("ctrnet doctor: all networks: ")
    assert out.strip().endswith(" checks, no problems found")


def test_doctor_names_ip_forward_off_and_the_fix(run: Run, backend: Backend) -> None:
    backend.sysctl_set(backend.host_ns, "net.ipv4.ip_forward", "0")
    code, out, _ = run("doctor", "web")
    assert code == 1
    assert "network web" in out and "net.ipv4.ip_forward is 0" in out
    # On the kernel, the backend's host is a namespace of its own: the fix names it.
    prefix = "ip netns exec ctrnet-" if LAUNCH_IN_NAMESPACE in backend.capabilities else ""
    assert f"fix: {prefix}" in out and "sysctl -w net.ipv4.ip_forward=1\n" in out


def test_doctor_of_one_container_checks_only_it(run: Run, backend: Backend) -> None:
    backend.link_set_up("c2", "lo", False)
    assert run("doctor", "c1")[0] == 0
    code, out, _ = run("doctor", "c2", "--json")
    assert code == 1 and '"check": "lo-down"' in out


def test_doctor_of_an_unknown_name_is_one_clear_line(run: Run) -> None:
    code, out, err = run("doctor", "nosuch")
    assert code == 1 and out == ""
    assert err.strip() == "ctrnet: no network, bridge or container named 'nosuch'"


def test_topology_draws_the_bridge_its_ports_and_the_containers(run: Run) -> None:
    code, out, _ = run("topology")
    assert code == 0
    assert "br-web (bridge, up) 10.71.0.1/24" in out
    assert "eth0 (veth, up) 10.71.0.2/24 <-> host/" in out
    code, out, _ = run("topology", "--format", "dot")
    assert out.startswith("graph ctrnet {") and '"c1/eth0"' in out


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_topology_renders_svg(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "topo.svg"
    assert run("topology", "--format", "svg", "-o", str(target))[0] == 0
    assert b"<svg" in target.read_bytes() and b"10.71.0.1/24" in target.read_bytes()


@pytest.mark.requires("trace")
def test_trace_between_containers_is_answered(run: Run) -> None:
    code, out, _ = run("trace", "--from", "c1", "--to", "10.71.0.3")
    assert code == 0
    assert out.splitlines()[0] == "trace icmp from c1 to 10.71.0.3: answered"
    assert "-- reply" in out


@pytest.mark.requires("capture")
def test_capture_writes_a_pcap_file(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "c1.pcap"
    code, _, err = run("capture", "c1", "eth0", "icmp", "--ping", "10.71.0.3", "-w",
                       str(target))
    assert code == 0 and "2 packets captured on c1/eth0" in err
    assert len(pcap.read(target.read_bytes())) == 2


def test_doctor_does_not_flag_containers_of_a_default_network_for_resolv_conf(
        run: Run, backend: Backend) -> None:
    # No --dns: the container keeps the host's resolv.conf, which works unless its servers
    # are loopback addresses (then the doctor says so; see conformance/troubleshoot).
    assert run("connect", "web", "c3", "--create-netns")[0] == 0
    code, out, _ = run("doctor", "c3", "--json")
    findings = [f["check"] for f in json.loads(out)["findings"]]
    if LAUNCH_IN_NAMESPACE in backend.capabilities:  # ip netns exec keeps the machine's file
        with open("/etc/resolv.conf", encoding="utf-8") as handle:
            servers = [line.split()[1] for line in handle if line.startswith("nameserver ")]
        if servers and all(s.startswith("127.") for s in servers):
            assert findings == ["resolv-conf-missing"]
            return
    assert findings == [] and code == 0


def test_capture_and_topology_speak_json(run: Run, backend: Backend) -> None:
    code, out, _ = run("topology", "--json")
    data = json.loads(out)
    assert code == 0 and {"namespaces", "published", "containers"} <= set(data)
    assert {c["container"] for c in data["containers"]} >= {"c1", "c2"}
    if "capture" not in backend.capabilities:
        return
    code, out, _ = run("capture", "c1", "eth0", "icmp", "--ping", "10.71.0.3", "--json")
    packets = json.loads(out)["packets"]
    assert code == 0 and [p["src"] for p in packets] == ["10.71.0.2", "10.71.0.3"]
    assert all("ICMP echo" in p["summary"] for p in packets)


def test_topology_shows_containers_in_none_and_host_mode(run: Run) -> None:
    assert run("connect", "none", "n1", "--create-netns")[0] == 0
    assert run("connect", "host", "h1")[0] == 0
    code, out, _ = run("topology")
    assert code == 0
    assert "(h1: host mode, shares this namespace)" in out.splitlines()[0]
    assert "n1  (n1: none mode, loopback only)" in out
    code, out, _ = run("topology", "--format", "dot")
    assert '"n1/(lo)"' in out  # an otherwise empty cluster still gets drawn


@pytest.mark.requires("capture")
def test_capture_says_what_it_is_doing_with_progress(run: Run) -> None:
    code, _, err = run("capture", "c1", "eth0", "--duration", "0.2", "--progress")
    assert code == 0 and "capturing on c1/eth0 for 0.2 s…" in err


def test_host_mode_shares_the_host_namespace_and_creates_none(run: Run, backend: Backend) -> None:
    code, out, _ = run("connect", "host", "h2", "--create-netns")
    assert code == 0 and "shares the host's network namespace" in out
    assert "h2" not in backend.netns_list()
    # Troubleshooting a host-mode container looks at the host's namespace.
    code, out, _ = run("trace", "--from", "h2", "--to", "10.71.0.2")
    assert code == 0 and out.startswith(f"trace icmp from {backend.host_ns} to 10.71.0.2")
