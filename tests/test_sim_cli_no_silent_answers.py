"""No silent answers on the simulated command line: every network tool a learner may type is
simulated or refused loudly, never run for real against a namespace that is not the
simulated one; writes to /proc/sys and /sys name `sysctl -w` and fail. Each test runs the real
CLI in a subprocess, as a script would."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest

from ctrnet.backends.sim.cmdline import refused
from ctrnet.backends.sim.cmdline.run import SHIMS, guarded
from ctrnet.backends.sim.cmdline.toolset import default_tools

CTRNET = [sys.executable, "-m", "ctrnet.cli"]


def sim(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    return subprocess.run([*CTRNET, "sim", "exec", "--", *argv], capture_output=True,
                          text=True, timeout=60, env=env)


def test_every_tool_of_the_server_has_a_shim_on_path() -> None:
    assert set(SHIMS) == set(default_tools())
    assert set(refused.UNSIMULATED) <= set(SHIMS)


def test_every_unsimulated_tool_refuses_with_one_line_and_status_2() -> None:
    names = sorted(refused.UNSIMULATED)
    script = "".join(f"{shlex.quote(n)} -a -b arg; echo \"{n} $?\"\n" for n in names)
    out = sim("sh", "-c", script)
    assert out.stdout.splitlines() == [f"{name} 2" for name in names]
    assert out.stderr.splitlines() == [refused.message(name).rstrip("\n") for name in names]


def test_a_refusal_names_what_to_type_instead() -> None:
    assert refused.message("ss") == ("ctrnet sim: ss is not simulated (socket tables are not "
                                     "modelled); use `conntrack -L` to see connections\n")
    assert "use `ip route`" in refused.message("route")


def test_netcat_and_nc_openbsd_are_the_simulated_nc() -> None:
    out = sim("sh", "-c", "netcat -h; nc.openbsd -h")
    assert out.stderr.splitlines() == ["ctrnet sim: nc: option -h is not supported"] * 2


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_write_to_proc_sys_names_sysctl_w_and_fails() -> None:
    out = sim("bash", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward; echo \"rc=$?\"")
    assert out.stdout == "rc=1\n"
    first = out.stderr.splitlines()[0]
    assert first == ("ctrnet sim: /proc/sys/net/ipv4/ip_forward: writes to /proc/sys and /sys "
                     "are not simulated: use sysctl -w net.ipv4.ip_forward=VALUE")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_tee_into_sys_is_caught_as_a_write() -> None:
    out = sim("bash", "-c", "echo 9000 | tee /sys/class/net/lo/mtu >/dev/null; echo \"rc=$?\"")
    assert out.stdout == "rc=1\n"
    assert "writes to /proc/sys and /sys are not simulated" in out.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_read_of_proc_sys_net_is_flagged_as_not_the_simulated_world() -> None:
    out = sim("bash", "-c", "cat /proc/sys/net/ipv4/ip_forward >/dev/null 2>&1; echo done")
    assert "ctrnet sim: /proc/sys/net/ipv4/ip_forward: the simulated world has no such " \
           "files" in out.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_redirection_elsewhere_is_left_alone() -> None:
    out = sim("bash", "-c", "echo hi > /dev/null; echo \"rc=$?\"; echo x | tee /dev/null")
    assert (out.stdout, out.stderr) == ("rc=0\nx\n", "")


@pytest.mark.skipif(os.geteuid() == 0 and not guarded(["true"])[1:],
                    reason="root that cannot unshare: the write would reach the real host")
def test_sh_write_to_proc_sys_fails_whatever_the_privileges() -> None:
    out = sim("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward; echo \"rc=$?\"")
    assert out.stdout == "rc=2\n"
    assert "/proc/sys/net/ipv4/ip_forward" in out.stderr


def test_timeout_counts_virtual_seconds_like_sleep() -> None:
    # `timeout` is a shim: 100 virtual seconds of sleep outlast 2 virtual seconds of timeout
    # (the real timeout would have let the virtual sleep finish first: exit 0).
    out = sim("sh", "-c", "timeout 2 sleep 100; echo \"rc=$?\"; "
                          "timeout 100 sleep 2; echo \"rc=$?\"")
    assert out.stdout == "rc=124\nrc=0\n", out.stderr


def test_a_killed_background_shim_dies_of_the_signal() -> None:
    out = sim("sh", "-c", "sleep 100 & p=$!; sleep 1; kill $p; sleep 1; wait $p; "
                          "echo \"rc=$?\"")
    assert out.stdout == "rc=143\n", out.stderr
