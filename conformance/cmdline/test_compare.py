"""`ctrnet sim compare`: a script run on the simulator and on the kernel, every tool
invocation compared — "identical", or the differences line by line; and the sickbay's
entries, each still diverging as it says (the day one stops, its entry goes).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from ctrnet.backend import ORACLE
from ctrnet.compare import oracle
from ctrnet.conformance.cmdline import generate, sickbay
from ctrnet.registry import entry


@pytest.fixture
def kernel_side(backend_name: str) -> None:
    if ORACLE not in entry(backend_name).capabilities:
        pytest.skip(f"compares the simulator with the kernel: run with a backend that has "
                    f"capability {ORACLE!r} (--backend kernel)")
    reason = oracle.kernel_unavailable()
    if reason:
        pytest.skip(reason)


def _compare(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ctrnet.cli", "sim", "compare", "--", "sh",
                           "-c", script], capture_output=True, text=True, timeout=300)


@pytest.mark.usefixtures("kernel_side")
def test_a_script_that_agrees_is_identical() -> None:
    done = _compare("ip link add br0 type bridge\nip link set br0 up\n"
                    "ip addr add 10.0.0.1/24 dev br0\nip -br addr show dev br0\n"
                    "ip link add nosuch0 type nosuchkind\n")
    assert done.stdout.startswith("identical (5 tool invocations compared)"), done.stdout
    assert done.returncode == 0


@pytest.mark.usefixtures("kernel_side")
def test_etc_netns_written_by_the_script_is_what_ip_netns_exec_shows() -> None:
    # Both sides have a private /etc/netns (a sandbox's own; the simulator's world): what
    # the script writes there never reaches the machine's /etc.
    done = _compare("ip netns add c1\nmkdir -p /etc/netns/c1\n"
                    "echo 'nameserver 198.51.100.53' > /etc/netns/c1/resolv.conf\n"
                    "ip netns exec c1 cat /etc/resolv.conf\n"
                    "ip netns exec c1 sh -c 'echo search example.net > /etc/resolv.conf'\n"
                    "cat /etc/netns/c1/resolv.conf\nip netns del c1\n")
    assert done.stdout.startswith("identical (4 tool invocations compared)"), done.stdout
    assert done.returncode == 0


@pytest.mark.usefixtures("kernel_side")
def test_a_script_that_differs_prints_each_differing_line() -> None:
    # $CTRNET_SIM is set under the simulator only: this script does differ, by construction.
    done = _compare('if [ -n "$CTRNET_SIM" ]; then ip link add br1 type bridge; '
                    "else ip link add br0 type bridge; fi\nip -br link show type bridge\n")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[:2] == ["--- simulator", "+++ kernel"]
    assert "-$ ip link add br1 type bridge" in lines
    assert "+$ ip link add br0 type bridge" in lines
    assert any(line.startswith("-br1 ") for line in lines)
    assert any(line.startswith("+br0 ") for line in lines)


@pytest.mark.usefixtures("kernel_side")
def test_a_script_the_simulator_refuses_is_reported() -> None:
    done = _compare("ip link add br0 type bridge\nnft list ruleset\n")
    assert done.returncode == 1
    assert "-stderr: ctrnet sim: nft " in done.stdout
    assert done.stdout.splitlines()[-1].startswith(
        "the simulator refused 1 invocation(s): ctrnet sim: nft ")


@pytest.mark.usefixtures("kernel_side")
def test_nested_invocations_are_recorded_on_both_sides() -> None:
    result = oracle.compare(["sh", "-c", "ip netns add c1\nip netns exec c1 ip -br link\n"])
    for run in (result.sim, result.kernel):
        assert [call.argv for call in run.invocations] == [
            ("ip", "netns", "add", "c1"), ("ip", "netns", "exec", "c1", "ip", "-br", "link"),
            ("ip", "-br", "link")]
    assert result.identical, "\n".join(result.diff())


def test_sim_compare_needs_a_command() -> None:
    done = subprocess.run([sys.executable, "-m", "ctrnet.cli", "sim", "compare"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("ctrnet sim compare: no command given "
                                   "(ctrnet sim compare -- CMD [ARGS...])")


ENTRIES = [entry for entry in sickbay.SICKBAY if entry.script]


@pytest.mark.usefixtures("kernel_side")
@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.name for entry in ENTRIES])
def test_sickbay_entry_still_diverges(entry: sickbay.Divergence) -> None:
    result = oracle.compare(["sh", "-c", entry.script])
    assert not result.identical, (
        f"sickbay entry {entry.name} no longer diverges: remove it from sickbay.py")
    header, refused = generate.first_divergence(result.sim_lines, result.kernel_lines)
    assert entry.matches(header, refused), "\n".join(result.diff())
