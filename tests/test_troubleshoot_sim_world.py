"""`ctrnet doctor`, `trace`, `topology` and the network commands typed inside `ctrnet sim
exec|shell` act on the run's world (never wait on it), and outside they say who holds a
kept world instead of waiting for it for good."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

CTRNET = [sys.executable, "-m", "ctrnet.cli"]
#: The guide's bridge network, typed as the guide types it (section 2.2), no NAT yet.
GUIDE = """
ip netns add container1
ip link add veth0 type veth peer name veth1
ip link set veth1 netns container1
ip link add name ctr0 type bridge
ip link set ctr0 up
ip addr add 172.20.0.1/24 dev ctr0
ip link set veth0 master ctr0
ip link set veth0 up
ip -n container1 addr add 172.20.0.2/24 dev veth1
ip -n container1 link set veth1 up
ip -n container1 route add default via 172.20.0.1
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_")}
    return {**env, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"), "LANG": "C"}


def sim_exec(home: Path, script: str, *state: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CTRNET, "sim", "exec", *state, "--", "sh", "-c", script],
                          env=_env(home), cwd=home, capture_output=True, text=True,
                          timeout=120)


def test_doctor_and_trace_inside_sim_exec_see_the_runs_world(tmp_path: Path) -> None:
    done = sim_exec(tmp_path, GUIDE + "ctrnet doctor; echo doctor=$?\n"
                    "ctrnet trace --from container1 --to 172.20.0.1; echo trace=$?\n"
                    "ctrnet topology --json\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "doctor=1" in out and "trace=0" in out
    # The guide's network as built so far: routing and NAT are the next steps.
    assert "net.ipv4.ip_forward is 0" in out
    assert "iptables -t nat -A POSTROUTING -s 172.20.0.0/24 ! -o ctr0 -j MASQUERADE" in out
    assert "trace icmp from container1 to 172.20.0.1: answered" in out
    assert '"name": "container1"' in out


def test_the_doctors_fixes_typed_in_the_run_make_it_healthy(tmp_path: Path) -> None:
    done = sim_exec(tmp_path, GUIDE + "ip -n container1 link set lo up\n"
                    "sysctl -w net.ipv4.ip_forward=1\n"
                    "iptables -t nat -A POSTROUTING -s 172.20.0.0/24 ! -o ctr0 -j MASQUERADE\n"
                    "ctrnet doctor\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no problems found" in done.stdout


def test_network_commands_in_a_kept_run_are_kept_with_its_world(tmp_path: Path) -> None:
    state = str(tmp_path / "lab")
    made = sim_exec(tmp_path, "ctrnet network create web --subnet 10.5.0.0/24 && "
                    "ctrnet connect web c1 --create-netns", "--state", state)
    assert made.returncode == 0, made.stderr
    later = sim_exec(tmp_path, "ctrnet ps --json; ip -n c1 -br addr show eth0",
                     "--state", state)
    assert later.returncode == 0, later.stderr
    assert '"container": "c1"' in later.stdout and "10.5.0.2/24" in later.stdout
    # The default world outside the run is untouched by what the run did.
    outside = subprocess.run([*CTRNET, "ps"], env=_env(tmp_path), cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert "c1" not in outside.stdout


def test_other_commands_run_as_the_real_ctrnet_inside_the_run(tmp_path: Path) -> None:
    done = sim_exec(tmp_path, "ctrnet --version")
    assert done.returncode == 0 and done.stdout.startswith("ctrnet ")


def test_outside_a_kept_world_held_by_a_shell_is_named_not_waited_for(tmp_path: Path) -> None:
    world = tmp_path / "state" / "ctrnet-sim" / "world"
    holder = subprocess.Popen([*CTRNET, "sim", "exec", "--state", str(world), "--", "sh", "-c",
                               "read line"], env=_env(tmp_path), cwd=tmp_path,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (world / "lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        for argv in (["doctor"], ["network", "ls"]):
            done = subprocess.run([*CTRNET, *argv], env=_env(tmp_path), cwd=tmp_path,
                                  capture_output=True, text=True, timeout=30)
            assert done.returncode == 1
            assert f"is in use by pid {holder.pid} (ctrnet sim exec)" in done.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    done = subprocess.run([*CTRNET, "doctor"], env=_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_a_veth_moved_into_the_wrong_namespace_goes_back_by_pid(tmp_path: Path) -> None:
    # iproute2's `netns PID`: the namespace that process runs in. init's (1) and the
    # shell's own ($$) are the host's; inside `ip netns exec b`, a process is in b.
    done = sim_exec(tmp_path, "ip netns add a; ip netns add b\n"
                    "ip link add veth0 type veth peer name veth1\n"
                    "ip link set veth1 netns b\n"
                    "ip -n b link set veth1 netns 1 && ip -br link show veth1\n"
                    "ip link set veth1 netns a && ip -n a link set veth1 netns $$ && "
                    "ip -br link show veth1\n"
                    "ip netns exec a sh -c 'echo $$ > pid; exec sleep 1000' &\n"
                    "while [ ! -s pid ]; do :; done\n"
                    "ip link set veth0 netns $(cat pid) && ip -n a -br link show veth0\n"
                    "kill %1\n"
                    "ip link set veth1 netns 4194305; echo gone=$?\n")
    assert done.stdout.count("veth1@veth0") == 2, done.stdout + done.stderr
    assert "veth0@" in done.stdout.splitlines()[2]
    assert "gone=2" in done.stdout and "RTNETLINK answers: No such process" in done.stderr


def test_a_shell_on_the_default_world_shares_the_records_made_outside(tmp_path: Path) -> None:
    state = tmp_path / "state" / "ctrnet-sim"  # the default state directory of _env
    made = subprocess.run([*CTRNET, "network", "create", "web", "--subnet", "10.6.0.0/24"],
                          env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    done = sim_exec(tmp_path, "ctrnet network ls; ctrnet doctor web",
                    "--state", str(state / "world"))
    assert done.returncode == 0, done.stderr
    assert "br-web" in done.stdout and "network web" in done.stdout


APPLY_FIXES = (
    "for round in 1 2 3; do\n"
    "  ctrnet doctor --json > report.json && break\n"
    f"  {sys.executable} -c 'import json; [print(f[\"fix\"]) for f in "
    "json.load(open(\"report.json\"))[\"findings\"]]' > fixes.sh\n"
    "  cat fixes.sh; sh -e fixes.sh || exit 9\n"
    "done\n")


def test_the_guides_network_with_the_host_end_moved_in_is_found_and_fixed(
        tmp_path: Path) -> None:
    done = sim_exec(tmp_path, GUIDE + "ip -n container1 link set lo up\n"
                    "sysctl -w net.ipv4.ip_forward=1\n"
                    "iptables -t nat -A POSTROUTING -s 172.20.0.0/24 ! -o ctr0 -j MASQUERADE\n"
                    "ip link set veth0 netns container1\n"  # the mistake
                    + APPLY_FIXES +
                    "ctrnet doctor && ip netns exec container1 ping -c 1 172.20.0.1\n")
    assert done.returncode == 0, done.stdout + done.stderr
    fixes = done.stdout
    assert "ip -n container1 link set veth0 netns 1" in fixes
    assert "ip link set veth0 master ctr0" in fixes and "ip link set veth0 up" in fixes
    assert "no problems found" in fixes and "1 received" in fixes
