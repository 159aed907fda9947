"""The rootless sandbox of the kernel backend (backends/kernel/userns.py): when the host
forbids user namespaces the reason is one line naming the setting and the way out; a
sandbox has its own network namespace, an empty /run/netns and /etc/netns of its own."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyroute2")
from ctrnet.backends.kernel import userns  # noqa: E402


@pytest.mark.parametrize(("path", "value", "setting"), [
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=0"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "kernel.apparmor_restrict_unprivileged_userns=1"),
    ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=0"),
])
def test_a_forbidding_host_setting_is_named_with_the_way_out(
        monkeypatch: pytest.MonkeyPatch, path: str, value: str, setting: str) -> None:
    monkeypatch.setattr(userns, "_read", lambda p: value if p == path else None)
    reason = userns.forbidden()
    assert reason is not None
    assert setting in reason
    assert reason.endswith(userns.WAY_OUT)
    assert "\n" not in reason


def test_a_user_who_may_not_make_user_namespaces_is_told_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(userns, "forbidden", lambda: "this host forbids it: sudo")
    assert userns.mode() == userns.KernelMode("unavailable", "this host forbids it: sudo")
    with pytest.raises(PermissionError, match="this host forbids it: sudo"):
        userns.ensure("tox -e kernel")


@pytest.mark.skipif(userns.forbidden() is not None, reason="no user namespaces on this host")
def test_the_sandbox_has_its_own_network_run_netns_and_etc_netns() -> None:
    script = ("id -u; ls /sys/class/net; ls -A /run/netns; test -e /etc/netns || echo no-etc-netns;"
              " mkdir /etc/netns && echo etc-writable; ip netns add probe && ip netns list;"
              " echo $CTRNET_USERNS; echo $USER")
    done = subprocess.run([sys.executable, "-c",
                           "import sys; from ctrnet.backends.kernel import userns; "
                           f"sys.exit(userns.run(['sh', '-c', {script!r}]))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "lo", "no-etc-netns", "etc-writable", "probe", "1",
                                   pwd.getpwuid(os.geteuid()).pw_name]
    assert not os.path.exists("/run/netns/probe")


@pytest.mark.skipif(userns.forbidden() is not None, reason="no user namespaces on this host")
def test_a_process_left_running_in_the_sandbox_ends_with_it() -> None:
    done = subprocess.run([sys.executable, "-c",
                           "import sys; from ctrnet.backends.kernel import userns; "
                           "sys.exit(userns.run(['sh', '-c', 'sleep 300 & echo $!']))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    leftover = int(done.stdout.split()[0])
    # The pid is the sandbox's view, and the sandbox shares the pid namespace: the same pid.
    cmdline = Path(f"/proc/{leftover}/cmdline")
    assert not cmdline.exists() or "sleep" not in cmdline.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="as a user, the kernel itself refuses these writes")
def test_a_sandbox_made_by_root_cannot_change_the_machines_kernel_settings() -> None:
    # Writes the value already there: harmless even if the sandbox failed to confine it.
    current = Path("/proc/sys/kernel/printk_ratelimit").read_text().strip()
    done = subprocess.run(
        [sys.executable, "-m", "ctrnet.backends.kernel.userns", "--fresh", "--", "sh", "-c",
         f"echo {current} > /proc/sys/kernel/printk_ratelimit; echo kernel=$?; "
         "echo 1 > /proc/sys/net/ipv4/ip_forward; echo net=$?"],
        capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["kernel=2", "net=0"], done.stderr
    assert "Read-only file system" in done.stderr
