"""`ctrnet sim exec` and `ctrnet sim shell`: one simulated world for one run of a command.

Builds the run's private directory (the server's socket and the shim directory that goes
first on PATH), loads the world from --state DIR, starts the server, runs the command as a
child process, and when it exits ends (and reports) whatever the run left behind, then
saves the world back. The exit status is the command's.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ctrnet.backends.sim import persist
from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.cmdline import client, procs
from ctrnet.backends.sim.cmdline.etcnetns import EtcNetns
from ctrnet.backends.sim.cmdline.server import InWorld, Server
from ctrnet.backends.sim.cmdline.toolset import default_tools

#: The names the shims answer to, first on the run's PATH: every tool of the server's table,
#: simulated or refused (backends/sim/cmdline/refused.py), so that no network tool a learner
#: types runs for real against a namespace that is not the simulated one.
SHIMS = tuple(default_tools())
#: Set in the run's environment so scripts (and prompts) can tell they are simulated.
MARKER_ENV = "CTRNET_SIM"


def install_shims(directory: Path, names: tuple[str, ...] = SHIMS) -> None:
    """Write the client script into `directory` and link every tool name to it."""
    source = Path(client.__file__).read_text(encoding="utf-8")
    # -I: ignore PYTHON* and the user's site; -S: no site import. Both keep start-up short.
    script = directory / "ctrnet-sim-client"
    script.write_text(f"#!{sys.executable} -IS\n{source}", encoding="utf-8")
    script.chmod(0o755)
    for name in names:
        (directory / name).symlink_to(script.name)


@contextmanager
def simulator(state_dir: str | None, in_world: InWorld | None = None, *,
              world: SimBackend | None = None) -> Iterator[tuple[Server, dict[str, str]]]:
    """A running server on a world (loaded from `state_dir` when given, else `world`, else a
    fresh one) and the environment a command needs to use it; on exit the world is saved
    back and everything is removed."""
    procs.become_subreaper()
    lock = persist.lock_state(state_dir) if state_dir else None
    private = Path(tempfile.mkdtemp(prefix="ctrnet-sim-"))
    server: Server | None = None
    try:
        backend = persist.load(state_dir) if state_dir else world or SimBackend()
        shim_dir = private / "bin"
        shim_dir.mkdir()
        install_shims(shim_dir)
        server = Server(backend, str(private / "sock"), str(shim_dir), default_tools())
        server.state_dir = state_dir
        server.in_world = in_world
        server.etc = EtcNetns(private / "etc")
        server.etc.push(backend)
        server.start()
        env = dict(os.environ)
        env["PATH"] = f"{shim_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
        env[client.SOCKET_ENV] = server.socket_path
        env[client.NS_ENV] = ""
        env[MARKER_ENV] = "1"
        guard = private / "bash-guard"
        guard.write_text(_bash_guard(env.get("BASH_ENV")), encoding="utf-8")
        env["BASH_ENV"] = str(guard)
        if os.geteuid() == 0 and not guarded(["true"])[1:]:
            env["CTRNET_SIM_SKIP_SYS_WRITES"] = "1"
        elif os.geteuid() == 0 and _private_etc_works(server.etc):
            server.etc_bound = True
            env[client.ETC_ENV] = str(server.etc.directory)
        yield server, env
        with server.lock:
            server.etc.pull(backend)
            if state_dir:
                persist.save(backend, state_dir)
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(private, ignore_errors=True)
        if lock is not None:
            lock.close()


def end_leftovers(server: Server) -> list[procs.Proc]:
    """End the processes the command left running (background jobs still blocked) and say
    which they were on stderr: on a real machine they would have gone on running."""
    server.scheduler.settle()
    left = [p for p in procs.descendants(os.getpid()) if p.state != "Z"]
    for proc in left:
        sys.stderr.write(f"ctrnet sim: ended background process {proc.pid} "
                         f"({_shown(proc)}), still running when the run ended\n")
    server.scheduler.close()
    procs.end_processes(left)
    procs.reap_orphans(os.getpid())
    return left


def _shown(proc: procs.Proc) -> str:
    argv = list(proc.argv)
    # A shim shows as "python -IS /tmp/…/bin/nc -l 8080": show it as the script wrote it.
    if len(argv) > 2 and argv[1] == "-IS" and "/ctrnet-sim-" in argv[2]:
        argv = [os.path.basename(argv[2]), *argv[3:]]
    return " ".join(argv)


#: Run as root, a script's `echo 1 > /proc/sys/…` (the guide has one) would change the real
#: host, which the simulator cannot intercept: the command then runs in a private mount
#: namespace where /proc/sys and /sys are read-only, so such a write fails loudly instead —
#: and in an empty network namespace, so a real network program (curl, a Python socket)
#: reaches nothing rather than the host's network. /proc/sys/net and /sys/class/net are
#: hidden under empty read-only mounts: what they would show is the real kernel's, not the
#: simulated world's, so reading them fails ("No such file or directory") rather than answer
#: wrongly. The shims' unix socket is a path: it still works.
_READ_ONLY_PROC_SYS = ('mount --bind /proc/sys /proc/sys && '
                      'mount -o remount,bind,ro /proc/sys && '
                      'mount -t tmpfs -o ro,size=4k ctrnet-sim /proc/sys/net && '
                      'mount --bind /sys /sys && mount -o remount,bind,ro /sys && '
                      'mount -t tmpfs -o ro,size=4k ctrnet-sim /sys/class/net && exec "$@"')

#: Sourced by every bash of the run ($BASH_ENV; the interactive shell's rc file too): a DEBUG
#: trap that sees a redirection or `tee` into /proc/sys or /sys before it runs and names the
#: simulated way, `sysctl -w`. The write itself then fails as the host makes it fail (read-only
#: file system under the guard, permission denied without root). Where nothing would make it
#: fail — root that could not unshare — the trap skips the command (extdebug) instead.
#: dash (`sh`) has no such hook: there the write fails with the system's message only.
_BASH_GUARD = r"""
__ctrnet_sim_sys_guard() {
  local end='[^[:space:];|&<>]'
  local re="(>|>>|>\\||tee([[:space:]]+-[-[:alnum:]]+)*)[[:space:]]*(/proc/sys/$end+|/sys/$end*)"
  if [[ $BASH_COMMAND =~ $re ]]; then
    local path=${BASH_REMATCH[3]} key=
    case $path in /proc/sys/*) key=${path#/proc/sys/}; key=${key//\//.};; esac
    printf 'ctrnet sim: %s: writes to /proc/sys and /sys are not simulated: use sysctl -w %s\n' \
      "$path" "${key:-KEY}=VALUE" >&2
    [ -n "${CTRNET_SIM_SKIP_SYS_WRITES-}" ] && { shopt -s extdebug; return 1; }
  elif [[ $BASH_COMMAND =~ (^|[[:space:]=\"\'])(/proc/sys/net/$end*|/sys/class/net$end*) ]]; then
    printf 'ctrnet sim: %s: the simulated world has no such files: use sysctl or ip -d link\n' \
      "${BASH_REMATCH[2]}" >&2
  fi
  return 0
}
trap __ctrnet_sim_sys_guard DEBUG
"""


def _bash_guard(user_bash_env: str | None) -> str:
    """The run's $BASH_ENV: the user's own first (it may set traps of its own), then ours."""
    own = f'. {shlex.quote(user_bash_env)}\n' if user_bash_env else ""
    return own + _BASH_GUARD


def guarded(argv: list[str], etc: EtcNetns | None = None) -> list[str]:
    """`argv`, wrapped so that as root it cannot write the host's /proc/sys (nor, given the
    run's `etc`, the host's /etc: it sees a private one, with the world's /etc/netns)."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        return argv  # unprivileged, /proc/sys is not writable anyway
    # Root without CAP_SYS_ADMIN (some containers) cannot unshare: run the command as is.
    probe = subprocess.run([unshare, "--mount", "--net", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        return argv
    script = _READ_ONLY_PROC_SYS
    if etc is not None:
        script = f"{etc.mount_script()} && {script}"
    return [unshare, "--mount", "--net", "--propagation", "private", "--", "/bin/sh", "-c",
            script, "ctrnet-sim", *_without_host_capabilities(unshare), *argv]


def in_run(server: Server, argv: list[str]) -> list[str]:
    """`argv` as the run starts it: guarded, with the run's private /etc where it has one."""
    return guarded(argv, server.etc if server.etc_bound else None)


def _private_etc_works(etc: EtcNetns) -> bool:
    """Whether this machine lets the run have its private /etc (an overlay whose upper
    directory is on the temporary directory's file system: not on every file system, e.g.
    not on an overlay root as in some containers). Without it, writes under /etc reach the
    machine's, and the world's /etc/netns files are not files for the command (the shell
    says so, `ip netns exec` too)."""
    return subprocess.run(guarded(["true"], etc), capture_output=True).returncode == 0


@functools.cache
def _without_host_capabilities(unshare: str) -> list[str]:
    """The last wrapper of a guarded command: a user namespace of its own (root inside,
    mapped to root outside, so the user's files and the shims' socket work as before) and,
    with it, a new mount namespace. Its capabilities then count in that user namespace only:
    `nsenter --net=/proc/$PPID/ns/net` is refused (the host's namespaces belong to the
    machine's user namespace), and the read-only mounts made before it are locked (a mount
    namespace made by a less privileged user namespace cannot unmount or remount them
    read-write). [] where no user namespace can be made (then only the mounts guard)."""
    argv = [unshare, "--user", "--map-root-user", "--mount", "--propagation", "unchanged", "--"]
    probe = subprocess.run([*argv, "true"], capture_output=True)
    return argv if probe.returncode == 0 else []


def run_command(argv: list[str], state_dir: str | None = None, *,
                in_world: InWorld | None = None) -> int:
    """`ctrnet sim exec`: run `argv` against the world; its exit status (128+N if killed).
    `in_world` runs the `ctrnet` commands typed in the run (backends/sim/cmdline/ctrnet_tool)."""
    with simulator(state_dir, in_world) as (server, env):
        if shutil.which(argv[0], path=env["PATH"]) is None and "/" not in argv[0]:
            sys.stderr.write(f"ctrnet sim: {argv[0]}: command not found\n")
            return 127
        try:
            child = subprocess.Popen(in_run(server, argv), env=env)
        except OSError as err:
            sys.stderr.write(f"ctrnet sim: {argv[0]}: {err.strerror}\n")
            return 127 if isinstance(err, FileNotFoundError) else 126
        status = _wait(child)
        end_leftovers(server)
    return status


def _wait(child: subprocess.Popen[bytes]) -> int:
    # Ctrl-C goes to the whole foreground process group: let the child decide what it means.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code


def run_shell(state_dir: str | None = None, *, in_world: InWorld | None = None) -> int:
    """`ctrnet sim shell`: an interactive shell (bash, else sh) in the simulator."""
    with simulator(state_dir, in_world) as (server, env):
        rc_dir = Path(server.socket_path).parent
        prompt = r"(ctrnet sim) \u:\w\$ "
        bash = shutil.which("bash")
        if bash:
            rcfile = rc_dir / "bashrc"
            rcfile.write_text(
                "[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc\n"
                "[ -f ~/.bashrc ] && . ~/.bashrc\n"
                f". {shlex.quote(env['BASH_ENV'])}\n"
                # A user's rc may rebuild PATH or PS1: the simulator's come last.
                f"PATH={shlex.quote(env['PATH'])}\n"
                f"PS1={shlex.quote(prompt)}\n", encoding="utf-8")
            argv = [bash, "--rcfile", str(rcfile), "-i"]
        else:
            env["PS1"] = "(ctrnet sim) $ "
            argv = ["/bin/sh", "-i"]
        sys.stderr.write("ctrnet sim: a simulated world; ip, iptables, ping… act on it. "
                         "`exit` leaves (the world is kept only with --state DIR).\n"
                         "ctrnet sim: writes to /proc/sys cannot be simulated: use sysctl -w.\n")
        if server.etc_bound:
            sys.stderr.write("ctrnet sim: /etc is the run's own copy: what you write there is "
                             "dropped at exit, except /etc/netns/NAME/, which the world keeps.\n")
        child = subprocess.Popen(in_run(server, argv), env=env)
        status = _wait(child)
        end_leftovers(server)
    return status
