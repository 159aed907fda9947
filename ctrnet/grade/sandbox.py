"""Running an untrusted plugin: never as the machine's root, inside limits, nothing left behind.

A learner's plugin is code nobody here wrote. Every call runs

- **without host root**: in a user namespace of its own in which it is root, mapped to one
  dedicated unprivileged id outside (`Sandbox.uid`); the id owns nothing on the machine but
  the files the grader hands over (the plugin's data dir), so a write anywhere else is refused
  by the kernel, and so is entering any namespace the machine's root owns. As a normal user
  the namespace maps root to the user's own id instead.
- **in a pid namespace** whose first process is a small init (`_INIT`) that runs the plugin,
  counts what is still alive when the plugin exits (a daemon it forked), and reports that on
  a pipe the plugin never sees; when the init exits the kernel kills everything left inside.
- **in a mount namespace** with its own /proc: the grader's processes (and their namespaces
  under /proc/PID/ns) are not visible.
- **within limits**: wall time (the whole process group is killed at the deadline, whoever
  keeps stdout open), CPU seconds, data memory, processes, open files, file size, and the
  output read back (the call is killed past `Limits.output_bytes`).

Files the plugin left in the machine's world-writable directories (/tmp, /var/tmp, /dev/shm,
/run/lock) under its id are reported as violations and removed.
Where no user namespace can be made at all, the plugin runs as it would without containment
and `Sandbox.contained` is False (the grader says so in its notes).
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ctrnet.grade.remote import SOCKET_ENV as WORLD_SOCKET_ENV

#: The socket on which the sandbox's init reports; unset before the plugin starts.
REPORT_ENV = "CTRNET_SANDBOX_REPORT"
_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
#: Ids handed to sandboxes: far above any real account (and below 2**31, the overflow ids).
_UID_BASE = 0x40000000
_UID_SPAN = 0x3FFF0000
#: Where any unprivileged id may create files on a usual Linux machine.
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")

#: pid 1 of the sandbox (bash, for `{var}>&-`): run the plugin under its limits, report its
#: exit status on the report socket once it exited, and wait there: the grader counts what
#: is still alive in the sandbox (from outside, where the plugin cannot hide anything), then
#: kills it all.
_INIT = r"""
report=${CTRNET_SANDBOX_REPORT:-}
unset CTRNET_SANDBOX_REPORT
setup=$1 limits=$2
shift 2
if [ -n "$setup" ]; then
    eval "$setup" || { echo "ctrnet sandbox: cannot prepare the sandbox" >&2; exit 125; }
fi
# bash would print "Segmentation fault" for a plugin killed by a signal: only the plugin
# writes to the real stderr; its status tells the grader (128+N, see `Sandbox.run`).
exec {err}>&2 2>/dev/null
if [ -n "$report" ]; then
    ( ulimit $limits || exit 125; exec "$@" 2>&"$err" {err}>&- ) {report}>&- <&0 &
else
    ( ulimit $limits || exit 125; exec "$@" 2>&"$err" {err}>&- ) <&0 &
fi
wait "$!"
status=$?
if [ -n "$report" ]; then
    echo "$status" >&"$report"
    read -r _ <&"$report"
fi
exit "$status"
"""

#: As root, in the sandbox's own mount namespace, before dropping privileges: make the
#: grader's Python (the venv it runs from, the installation under it) reachable by the
#: sandbox's id when it lives under a private directory (a pyenv under /root): the private
#: directory is covered by an empty tmpfs (mode 0711) holding only bind mounts of what is
#: needed. Arguments: a holding directory, then "PRIVATE\nPATH" pairs, then `--` and the rest.
_EXPOSE = r"""
set -e
hold=$1
shift
pairs=()
while [ "$1" != -- ]; do pairs+=("$1"); shift; done
shift
n=0
for pair in "${pairs[@]}"; do  # first hold every leaf: covering a directory hides them
    leaf=${pair#*$'\n'}
    if [ -d "$leaf" ]; then mkdir -p "$hold/$n"; else touch "$hold/$n"; fi
    mount --bind "$leaf" "$hold/$n"
    n=$((n + 1))
done
n=0
for pair in "${pairs[@]}"; do
    top=${pair%%$'\n'*} leaf=${pair#*$'\n'}
    if [ "$(findmnt -n -o TARGET --mountpoint "$top" 2>/dev/null)" != "$top" ]; then
        mount -t tmpfs -o mode=0711,size=64k ctrnet-expose "$top"
    fi
    if [ -d "$hold/$n" ]; then
        mkdir -p "$leaf"
    else
        mkdir -p "${leaf%/*}"
        touch "$leaf"
    fi
    mount --move "$hold/$n" "$leaf"
    n=$((n + 1))
done
exec "$@"
"""


def _private_parts(paths: tuple[str, ...]) -> list[tuple[str, str]]:
    """For each path the sandbox's id cannot reach: (the topmost directory on the way that
    others may not pass, the path). Nothing for a path already reachable, or blocked at /."""
    found: list[tuple[str, str]] = []
    for path in dict.fromkeys(os.path.realpath(p) for p in paths):
        for directory in reversed(Path(path).parents):  # / first
            try:
                blocked = not directory.stat().st_mode & 0o001
            except OSError:
                break
            if blocked:
                if str(directory) != "/":
                    found.append((str(directory), path))
                break
    return found


@dataclass
class _Collected:
    """What `Sandbox._collect` read and found."""

    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    status: int | None = None  # as the sandbox's init saw it
    left: int = 0
    timed_out: bool = False
    overflow: str = ""


@dataclass(frozen=True)
class Limits:
    """What one plugin call may use. Wall time is the call's timeout (see `run`)."""

    cpu_seconds: int = 30
    data_bytes: int = 1 << 30
    processes: int = 256
    open_files: int = 256
    file_bytes: int = 64 << 20
    #: stdout and stderr, each: past this the call is killed and the output cut.
    output_bytes: int = 1 << 20

    def ulimit(self) -> str:
        """The `ulimit` arguments (bash) setting these, soft and hard."""
        return (f"-t {self.cpu_seconds} -d {self.data_bytes // 1024} -u {self.processes} "
                f"-n {self.open_files} -f {self.file_bytes // 1024}")


@dataclass(frozen=True)
class Finished:
    """One finished plugin process."""

    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    #: What the plugin did that a plugin must not: each a short clause ("left 2 processes
    #: running", "wrote /tmp/x outside its data dir"), to follow "ADD for c1 ".
    violations: tuple[str, ...] = ()
    #: The same, in Japanese, in the same order (each a sentence of its own).
    violations_ja: tuple[str, ...] = ()


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _probe(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Sandbox:
    """Runs plugin processes contained; one per launcher (per graded world).

    `enter` is the command prefix that puts a process in the world's host network namespace
    (`nsenter --net=…`) or None to give each call an empty network namespace of its own (the
    simulator: the plugin reaches its world only through the shims' socket). On the kernel
    the host namespace is owned by the machine's root, which a user namespace cannot
    configure: `own_userns` then names a user namespace (a /proc/PID/ns/user path) that owns
    the world's namespaces, and the plugin runs as root of *that* namespace."""

    def __init__(self, workdir: Path, *, limits: Limits | None = None,
                 enter_net: str | None = None, own_userns: str | None = None,
                 own_uid: int | None = None, setup: str = "",
                 pass_fds: tuple[int, ...] = (), contain: bool = True) -> None:
        self.limits = limits or Limits()
        self._enter_net = enter_net
        self._own_userns = own_userns
        self._setup = setup
        self._pass_fds = pass_fds
        self.workdir = workdir
        self._unshare = shutil.which("unshare", path=_SYSTEM_PATH) or "unshare"
        self._nsenter = shutil.which("nsenter", path=_SYSTEM_PATH) or "nsenter"
        self._bash = shutil.which("bash", path=_SYSTEM_PATH) or "/bin/bash"
        self._setpriv = shutil.which("setpriv", path=_SYSTEM_PATH) or "setpriv"
        self.root = os.geteuid() == 0
        #: The id outside that the plugin's root maps to.
        self.uid = (_UID_BASE + secrets.randbelow(_UID_SPAN)) if self.root else os.getuid()
        if own_uid is not None:
            self.uid = own_uid
        #: False when the plugin runs as this process's own user (no namespace could be
        #: made, or `contain` was False: a trusted plugin, a test of the CNI contract).
        self.contained = contain and self._can_contain()
        self._contain = contain
        self._granted: list[str] = []
        #: What the plugin must reach below private directories: see `expose`, `_EXPOSE`.
        self._leaves: list[str] = [sys.prefix, sys.base_prefix]

    # -- what the plugin may touch ---------------------------------------------------------

    def _can_contain(self) -> bool:
        if self._own_userns is not None:
            return True
        if self._enter_net is not None:
            return False
        drop = [self._setpriv, f"--reuid={self.uid}", f"--regid={self.uid}",
                "--clear-groups", "--"] if self.root else []
        return _probe([*drop, self._unshare, "--user", "--map-root-user", "--pid", "--fork",
                       "--mount", "--mount-proc", "--net", "true"])

    def grant(self, path: str | Path) -> None:
        """Make `path` a directory the plugin owns (its data dir, a socket's directory) and
        every directory above it passable, not readable, by others."""
        path = os.path.abspath(path)
        os.makedirs(path, exist_ok=True)
        if self.root and self.contained:
            for root, dirs, files in os.walk(path):
                for name in (*dirs, *files):
                    os.lchown(os.path.join(root, name), self.uid, self.uid)
            os.chown(path, self.uid, self.uid)
        self._granted.append(path)
        self.expose(path)

    def _grant_socket(self, path: str) -> None:
        if self.root and self.contained:
            os.chown(path, self.uid, self.uid)
            directory = os.path.dirname(path)
            os.chmod(directory, os.stat(directory).st_mode & 0o7777 | 0o001)
        self._granted.append(path)

    def grant_file(self, path: str | Path) -> None:
        """Let the plugin write the existing file `path` (a log its tools append to)."""
        if self.root and self.contained:
            os.chown(path, self.uid, self.uid)
        self.expose(path)

    def expose(self, path: str | Path) -> None:
        """Let the plugin reach `path` (a directory or file) although a directory above it
        is private (pytest's and the grader's temporary directories are 0700): in the
        sandbox's mount namespace only (see `_EXPOSE`), never by changing the machine's
        modes (pytest resets them to 0700 at every session start anyway)."""
        if self.root and self.contained:
            self._leaves.append(os.path.abspath(path))

    def reachable(self, plugin: str) -> str:
        """`plugin` itself when the sandbox's id can run it where it is, else a copy in the
        workdir (a submission kept under a private directory)."""
        if not (self.root and self.contained):
            return plugin
        path = Path(os.path.abspath(plugin))
        if not path.is_file() or usable_by_others(str(path)):
            return str(path)
        copy = Path(self.workdir) / "plugin" / path.name
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
            mode = path.stat().st_mode & 0o777 | 0o004
            copy.chmod(mode | 0o001 if mode & 0o100 else mode)  # executable only if it was
            self.expose(copy)
        return str(copy)

    # -- running ---------------------------------------------------------------------------

    def argv(self, plugin: str, hold: str = "") -> list[str]:
        """The whole command line running `plugin` contained (the first element is exec'd):
        as root, drop to the sandbox's id first; then a user namespace (a new one mapping
        root to that id, or the world's), then pid and mount namespaces, then the init."""
        init = [self._bash, "-c", _INIT, "ctrnet-sandbox", self._setup, self.limits.ulimit(),
                plugin]
        if not self._contain or (not self.contained and self._enter_net is None):
            return init
        drop = [self._setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                "--"] if self.root else []
        inner = ["--pid", "--fork", "--kill-child", "--mount", "--propagation", "private",
                 "--mount-proc"]
        exposed = _private_parts(tuple(self._leaves)) if self.root and self.contained else []
        if exposed:
            if not hold:
                raise ValueError("exposing paths needs a holding directory (see `run`)")
            drop = [self._unshare, "--mount", "--propagation", "private", "--", self._bash,
                    "-c", _EXPOSE, "ctrnet-expose", hold,
                    *[f"{top}\n{leaf}" for top, leaf in exposed], "--", *drop]
        if self._own_userns is not None:
            # Its own id is the user namespace's root: no setgroups (denied there).
            enter = [self._nsenter, f"--user={self._own_userns}", "--preserve-credentials"]
            if self._enter_net is not None:
                enter.append(f"--net={self._enter_net}")
            return [*drop, *enter, "--", self._unshare, *inner, "--", *init]
        if self._enter_net is not None:
            # No user namespace owns the world: the plugin keeps the grader's root (see
            # `contained`), still in pid and mount namespaces of its own.
            return [self._nsenter, f"--net={self._enter_net}", "--", self._unshare, *inner,
                    "--", *init]
        return [*drop, self._unshare, "--user", "--map-root-user", *inner, "--net", "--", *init]

    def run(self, plugin: str, *, stdin: str, env: dict[str, str], timeout: float,
            ) -> Finished:
        """Run `plugin` once, contained; never longer than `timeout` (plus the kill)."""
        world = env.get(WORLD_SOCKET_ENV)
        if world and world not in self._granted:
            # ctrnet's own plugin (trusted) acts on the grader's world through this socket.
            self._grant_socket(world)
        # Where this call's root stage holds what it exposes (removed with the call).
        hold = tempfile.mkdtemp(prefix="ctrnet-hold-") if self.root and self.contained else ""
        try:
            return self._run(plugin, stdin, env, timeout, hold)
        finally:
            if hold:
                shutil.rmtree(hold, ignore_errors=True)

    def _run(self, plugin: str, stdin: str, env: dict[str, str], timeout: float,
             hold: str) -> Finished:
        start = time.monotonic()
        mine, theirs = socket.socketpair()
        full_env = {**env, REPORT_ENV: str(theirs.fileno())}
        try:
            proc = subprocess.Popen(
                self.argv(plugin, hold), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=full_env, start_new_session=True,
                pass_fds=(theirs.fileno(), *self._pass_fds))
        except OSError as exc:
            mine.close()
            theirs.close()
            return Finished(126, "", f"cannot start: {exc.strerror}", 0.0)
        theirs.close()
        got = self._collect(proc, stdin.encode(), mine, start + timeout)
        violations: list[tuple[str, str]] = []
        if got.overflow:
            violations.append((f"printed more than {_size(self.limits.output_bytes)} "
                               f"on {got.overflow} (killed)",
                               f"{got.overflow} に {_size(self.limits.output_bytes)} を超えて"
                               "出力しました（強制終了）"))
        if got.left:
            violations.append((f"left {got.left} process{'es' if got.left != 1 else ''} "
                               "running (a plugin must finish its work before it exits; "
                               "killed)",
                               f"プロセスを {got.left} 個動かしたまま終了しました（プラグインは"
                               "終了する前に仕事を終えること。強制終了）"))
        violations += self.swept()
        status = got.status
        if status is None:
            status = proc.returncode if proc.returncode is not None else -signal.SIGKILL
        elif 128 < status <= 128 + 64:
            status = 128 - status  # killed by signal N (the shell's 128+N)
        return Finished(status, got.stdout.decode(errors="replace"),
                        got.stderr.decode(errors="replace"), time.monotonic() - start,
                        got.timed_out, tuple(en for en, _ in violations),
                        tuple(ja for _, ja in violations))

    def _collect(self, proc: subprocess.Popen[bytes], stdin: bytes, report: socket.socket,
                 deadline: float) -> _Collected:
        """Feed stdin, read stdout/stderr until the init reports (then count what is left
        and end the sandbox) or the deadline; kill the group at the deadline or on too much
        output. A daemon holding stdout cannot stretch any of it."""
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdin.write(stdin)
        except (BrokenPipeError, OSError):
            pass
        try:
            proc.stdin.close()
        except OSError:
            pass
        got = _Collected()
        limit = self.limits.output_bytes
        out_fd, err_fd, report_fd = proc.stdout.fileno(), proc.stderr.fileno(), report.fileno()
        buffers = {out_fd: got.stdout, err_fd: got.stderr, report_fd: bytearray()}
        names = {out_fd: "stdout", err_fd: "stderr"}
        selector = selectors.DefaultSelector()
        for fd in buffers:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        ended = False
        try:
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got.timed_out = not ended
                    break
                for key, _ in selector.select(min(remaining, 0.5)):
                    fd = int(key.fd)
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        chunk = b""
                    if not chunk:
                        selector.unregister(fd)
                        continue
                    buffer = buffers[fd]
                    room = (limit if fd != report_fd else 64) - len(buffer)
                    buffer += chunk[:max(room, 0)]
                    if len(chunk) > room and fd != report_fd:
                        got.overflow = names[fd]
                        break
                if got.overflow:
                    break
                line = bytes(buffers[report_fd])
                if not ended and line.endswith(b"\n"):
                    # The plugin exited: what is alive now, it left behind.
                    word = line.strip()
                    got.status = int(word) if word.isdigit() else None
                    got.left = _left_behind(proc.pid)
                    # Closing the socket lets the init exit: its pid namespace goes with it.
                    selector.unregister(report_fd)
                    report.close()
                    ended = True
                    deadline = min(deadline, time.monotonic() + 2.0)
                if proc.poll() is not None and not ended:
                    # The init is gone without reporting (uncontained, or killed): a daemon
                    # may hold the pipes open for ever, so a short grace only.
                    ended = True
                    deadline = min(deadline, time.monotonic() + 0.5)
        finally:
            selector.close()
            _end(proc)
            proc.stdout.close()
            proc.stderr.close()
            report.close()
        return got

    def sweep(self) -> list[str]:
        """Files the sandbox's id left in the machine's world-writable directories: named
        as violations, and removed."""
        return [en for en, _ in self.swept()]

    def swept(self) -> list[tuple[str, str]]:
        """`sweep`, each violation in (English, Japanese)."""
        if not (self.root and self.contained):
            return []
        found: list[tuple[str, str]] = []
        for top in WORLD_WRITABLE:
            for path in _owned_below(top, self.uid, set(self._granted)):
                found.append((f"wrote {path} outside its data dir (removed)",
                              f"データディレクトリの外に {path} を書きました（削除済み）"))
                _remove(path)
        return found

    def close(self) -> None:
        """Remove what the plugin left outside its data dir (the workdir goes with its owner)."""
        self.sweep()


#: The variable the kernel backend reads to make its namespaces owned by a user namespace
#: (`ctrnet.backends.kernel.spaces.OWNER_ENV`).
NETNS_OWNER_ENV = "CTRNET_NETNS_OWNER"


class OwnerNamespace:
    """A user namespace for a kernel world to be owned by: made by a dedicated unprivileged
    id (which becomes its root, and so the root of nothing else), held by a descriptor of
    this process. Graded on the kernel, the world's namespaces are made in it (see
    `NETNS_OWNER_ENV`) and each plugin runs as its root: it configures the world's
    namespaces, and no namespace of the machine lets it in."""

    def __init__(self) -> None:
        self.uid = _UID_BASE + secrets.randbelow(_UID_SPAN)
        setpriv = shutil.which("setpriv", path=_SYSTEM_PATH) or "setpriv"
        unshare = shutil.which("unshare", path=_SYSTEM_PATH) or "unshare"
        holder = subprocess.Popen(
            [setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--",
             unshare, "--user", "--map-root-user", "--", "/bin/sh", "-c",
             "echo ready; exec cat >/dev/null"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert holder.stdin is not None and holder.stdout is not None
        try:
            if holder.stdout.readline() != b"ready\n":
                raise OSError(0, "no user namespace could be made")
            self.fd = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            holder.stdin.close()
            holder.wait()
            holder.stdout.close()
        #: How another process of root's reaches it (the holder is gone).
        self.path = f"/proc/{os.getpid()}/fd/{self.fd}"

    def close(self) -> None:
        """Let go; the namespace lives on while a world's namespace it owns does."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def usable_by_others(path: str) -> bool:
    """Whether any unprivileged id can run (or read) `path`, following symlinks."""
    real = Path(os.path.realpath(path))
    try:
        if real.stat().st_mode & 0o005 != 0o005:
            return False
        return all(p.stat().st_mode & 0o001 for p in real.parents)
    except OSError:
        return False


def python_for_others(preferred: str) -> str:
    """A Python interpreter the sandbox's id can run: `preferred` when it can, else the
    system's python3 (a Python installed under a private home is not reachable)."""
    if usable_by_others(preferred):
        return preferred
    system = shutil.which("python3", path=_SYSTEM_PATH)
    if system is not None and usable_by_others(system):
        return system
    return preferred


def _owned_below(top: str, uid: int, skip: set[str]) -> list[str]:
    """Entries of `top` (and of its world-writable subdirectories) owned by `uid`."""
    found = []
    try:
        entries = list(os.scandir(top))
    except OSError:
        return []
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if entry.path in skip:
            continue
        if st.st_uid == uid:
            found.append(entry.path)
        elif entry.is_dir(follow_symlinks=False) and st.st_mode & 0o002:
            found += _owned_below(entry.path, uid, skip)
    return found


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _left_behind(top: int) -> int:
    """Live processes below the sandbox's init (`top`'s child, or `top` itself when it is
    the init): seen from outside, through the machine's /proc."""
    parents: dict[int, int] = {}
    zombies: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        if fields[0] in (b"Z", b"X"):
            zombies.add(int(entry))
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    inits = set(children.get(top, ())) or {top}
    found = 0
    todo = [c for init in inits for c in children.get(init, ())]
    while todo:
        pid = todo.pop()
        if pid not in zombies:
            found += 1
        todo.extend(children.get(pid, ()))
    return found


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Kill the sandbox: its init first (the kernel then kills everything in its pid
    namespace, and `unshare` reaps it), then whatever is left of the process group."""
    if proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children", encoding="ascii") as handle:
                inits = [int(pid) for pid in handle.read().split()]
        except OSError:
            inits = []
        for pid in inits:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
    _kill_group(proc.pid)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
