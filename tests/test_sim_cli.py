"""`ctrnet sim exec` / `ctrnet sim shell`: one simulated world per run, shims on PATH, real
processes (nesting `ip netns exec`, background jobs, `wait`), the virtual clock, --state.
Every test runs the real CLI in a subprocess, as a script would; none needs root."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CTRNET = [sys.executable, "-m", "ctrnet.cli"]
TOPOLOGY = """
ip netns add srv
ip link add veth0 type veth peer name veth1 netns srv
ip addr add 10.9.0.1/24 dev veth0
ip link set veth0 up
ip -n srv addr add 10.9.0.2/24 dev veth1
ip -n srv link set veth1 up
"""


def sim(script: str, *, state: Path | None = None, cwd: Path | None = None,
        timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    argv = [*CTRNET, "sim", "exec", *(["--state", str(state)] if state else []),
            "--", "sh", "-c", script]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=cwd)


def test_exit_status_is_the_commands() -> None:
    assert sim("ip netns add a; exit 7").returncode == 7


def test_one_world_lasts_for_the_whole_run() -> None:
    out = sim("ip netns add a && ip netns add b && ip netns list")
    assert out.stdout.split() == ["b", "a"]


def test_each_run_without_state_starts_from_a_fresh_world() -> None:
    sim("ip netns add a")
    assert sim("ip netns list").stdout == ""


def test_netns_exec_runs_any_program_nested_as_deep_as_the_script() -> None:
    out = sim(TOPOLOGY + "ip netns add inner\n"
              "ip netns exec srv sh -c 'ip -br addr show veth1; "
              "ip netns exec inner timeout 5 sh -c \"ip -br link; echo depth2\"; "
              "ip -br link show veth1'")
    assert out.returncode == 0, out.stderr
    lines = [line.split()[0] for line in out.stdout.splitlines()]
    assert lines == ["veth1@if2", "lo", "depth2", "veth1@if2"]


def test_netns_exec_exit_status_is_the_commands() -> None:
    assert sim("ip netns add a; ip netns exec a sh -c 'exit 5'").returncode == 5


def test_sleep_moves_the_virtual_clock_without_waiting() -> None:
    started = time.monotonic()
    out = sim("sleep 3600; sleep 1d; echo done")
    assert out.stdout == "done\n"
    assert time.monotonic() - started < 10


def test_background_listener_is_listening_after_sleep_even_when_slow_to_start(
        tmp_path: Path) -> None:
    # The job burns CPU before it listens: `sleep 1` must not move the clock (and let the
    # client connect) before the listener is up, however long the loop takes here.
    out = sim(TOPOLOGY + """
(i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done
 ip netns exec srv nc -l -p 8080 > got) &
sleep 1
echo payload | nc -N 10.9.0.2 8080; echo "client $?"
wait; echo "server $?"; cat got
""", timeout=60, cwd=tmp_path)
    assert out.stdout == "client 0\nserver 0\npayload\n", out.stderr


def test_concurrent_sleeps_wake_in_virtual_time_order() -> None:
    out = sim("(sleep 5; echo five) & (sleep 2; echo two) & sleep 3; echo three; wait")
    assert out.stdout.split() == ["two", "three", "five"]


def test_blocked_background_process_is_ended_and_reported_when_the_run_ends() -> None:
    out = sim(TOPOLOGY + "ip netns exec srv nc -l 7070 &\necho end")
    assert out.returncode == 0
    assert out.stdout == "end\n"
    assert "ctrnet sim: ended background process" in out.stderr
    assert "nc -l 7070" in out.stderr


def test_unsupported_option_fails_loudly_with_exit_2() -> None:
    out = sim("tc qdisc add dev lo root netem delay 10ms")
    assert out.returncode == 2
    assert out.stderr == "ctrnet sim: tc: qdisc 'netem' (only tbf) is not supported\n"


def test_unknown_tool_through_the_server_is_command_not_found() -> None:
    out = sim('"$(dirname "$(command -v ip)")/ctrnet-sim-client" x')
    assert out.returncode == 127


def test_iptables_save_pipes_into_iptables_restore() -> None:
    out = sim("iptables -A FORWARD -i ctr0 -j DROP && ip netns add b && "
              "iptables-save | ip netns exec b iptables-restore && ip netns exec b iptables -S")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "-A FORWARD -i ctr0 -j DROP"


def test_output_order_of_stdout_and_stderr_is_kept() -> None:
    out = sim("ip link show nosuch 2>&1; echo after")
    assert out.stdout == 'Device "nosuch" does not exist.\nafter\n'


def test_a_shim_outside_a_run_says_where_it_belongs(tmp_path: Path) -> None:
    from ctrnet.backends.sim.cmdline.run import install_shims

    install_shims(tmp_path, ("ip",))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    out = subprocess.run([str(tmp_path / "ip"), "link"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 2
    assert "run this under `ctrnet sim exec`" in out.stderr


def test_state_dir_keeps_the_world_across_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert sim(TOPOLOGY + "ping -c 1 10.9.0.2 > /dev/null", state=state).returncode == 0
    out = sim("ip netns list; ip -n srv -br addr show veth1; ping -c 1 -q 10.9.0.2",
              state=state)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("srv (id: 0)\nveth1@if2        UP             10.9.0.2/24 \n")


def test_state_dirs_are_independent_and_usable_at_the_same_time(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    runs = [subprocess.Popen([*CTRNET, "sim", "exec", "--state", str(tmp_path / name), "--",
                              "sh", "-c", f"ip netns add {name}; sleep 2; ip netns list"],
                             stdout=subprocess.PIPE, text=True, env=env)
            for name in ("one", "two")]
    outputs = [run.communicate(timeout=30)[0] for run in runs]
    assert outputs == ["one\n", "two\n"]


def test_a_state_dir_in_use_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    holder = subprocess.Popen([*CTRNET, "sim", "exec", "--state", str(tmp_path), "--",
                               "sh", "-c", "echo ready; read line"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        out = sim("true", state=tmp_path)
        assert out.returncode == 1
        assert "is in use by another `ctrnet sim` run" in out.stderr
    finally:
        holder.communicate("go\n", timeout=30)


def _read_until(fd: int, token: bytes, seen: bytearray, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while token not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen.extend(os.read(fd, 4096))
            except OSError:
                break
    return token in seen


def test_shell_is_interactive_with_a_prompt_that_shows_the_simulator() -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the interactive shell on the pseudo-terminal
        os.execv(sys.executable, [*CTRNET, "sim", "shell"])
    seen = bytearray()
    try:
        assert _read_until(fd, b"(ctrnet sim) ", seen), seen.decode(errors="replace")
        os.write(fd, b"ip netns add x; ip netns list; echo MARK$((40+2))\n")
        assert _read_until(fd, b"MARK42", seen), seen.decode(errors="replace")
        os.write(fd, b"exit 3\n")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 3
    assert b"x\r\nMARK42" in seen  # `ip netns list` printed the namespace


@pytest.mark.skipif(os.geteuid() != 0, reason="already unprivileged: every test here is the "
                    "proof")
def test_runs_as_an_unprivileged_user() -> None:
    # Root here: drop to nobody, with the system's Python and a copy of the package (the
    # venv and the checkout may sit where nobody cannot read).
    python = shutil.which("python3", path="/usr/bin:/bin")
    setpriv = shutil.which("setpriv")
    if python is None or setpriv is None:
        pytest.skip("needs /usr/bin/python3 and setpriv")
    if subprocess.run([python, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"]
                      ).returncode != 0:
        pytest.skip("the system's python3 is older than 3.11")
    # pytest's tmp_path sits under a 0700 directory: nobody needs a readable one.
    top = Path(tempfile.mkdtemp(prefix="ctrnet-unprivileged-"))
    try:
        _run_as_nobody(top, python, setpriv)
    finally:
        shutil.rmtree(top)


#: `ctrnet sim exec ARGV…` without the CLI's other subcommands (and their dependencies).
_RUN_COMMAND = ("import sys; from ctrnet.backends.sim.cmdline import run_command; "
                "sys.exit(run_command(sys.argv[1:]))")


def _run_as_nobody(top: Path, python: str, setpriv: str) -> None:
    import ctrnet
    import ctrnet.backends

    site = top / "site"
    shutil.copytree(Path(ctrnet.__file__).parent, site / "ctrnet")
    shutil.copytree(Path(ctrnet.backends.__file__).parent, site / "ctrnet" / "backends",
                    dirs_exist_ok=True)
    top.chmod(0o755)
    for path in top.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    out = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i",
         "PATH=/usr/bin:/bin", "HOME=/tmp", f"PYTHONPATH={site}", python, "-c", _RUN_COMMAND,
         "sh", "-c",
         "id -u; " + TOPOLOGY + "sleep 1; ping -c 1 -q 10.9.0.2 | tail -2 | head -1"],
        capture_output=True, text=True, timeout=60, cwd="/tmp")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "65534", "1 packets transmitted, 1 received, 0% packet loss, time 0ms"]


def test_writing_proc_sys_fails_loudly_and_leaves_the_host_alone() -> None:
    # The simulator cannot intercept a file write: as root the run's /proc/sys is read-only,
    # unprivileged it is not writable anyway. Either way the script hears about it.
    key = Path("/proc/sys/net/ipv4/ip_forward")
    before = key.read_text()
    out = sim("echo 1 > /proc/sys/net/ipv4/ip_forward; echo $?; sysctl -n net.ipv4.ip_forward; "
              "sysctl -w net.ipv4.ip_forward=1")
    assert key.read_text() == before
    assert out.stdout == "2\n0\nnet.ipv4.ip_forward = 1\n"
    assert "/proc/sys/net/ipv4/ip_forward" in out.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the isolation is what running as root adds")
def test_as_root_real_programs_see_an_empty_network_not_the_hosts() -> None:
    # A non-shim program (cat here, curl in real life) cannot be simulated; as root it must
    # at least not reach the real host's network.
    out = sim("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert out.stdout == "lo\n"
