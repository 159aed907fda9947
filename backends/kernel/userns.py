"""Rootless kernel runs: the kernel backend inside a user + network + mount namespace of its own.

A user without root gets the kernel backend by running the whole process (pytest, the
`ctrnet` command) in a sandbox made of namespaces the user may create: a user namespace in
which the caller is root (uid 0 mapped to the caller's uid; with newuidmap and /etc/subuid
also uids 1..N, so tools that change user, such as tcpdump, work), a network namespace that
plays the machine's own, and a private mount namespace in which /run and /etc are writable
tmpfs copies (so /run/netns, /run/xtables.lock and /etc/netns are the sandbox's own) and
/sys is the sandbox network namespace's sysfs. /proc/sys/net follows the calling thread's
network namespace by itself. Nothing the sandbox does is visible outside it; when its last
process exits, the kernel removes every namespace of it.

    python -m ctrnet.backends.kernel.userns --check        # why (not) rootless, one line
    python -m ctrnet.backends.kernel.userns -- CMD [ARGS]  # run CMD in a sandbox (not as root)
    python -m ctrnet.backends.kernel.userns --fresh -- CMD  # a new sandbox, even as root
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import NoReturn

#: Set in the environment of every process inside a sandbox made here.
INSIDE_ENV = "CTRNET_USERNS"
#: Why the sandbox could be made (shown by `ctrnet backends` from inside it).
_WHY_ENV = "CTRNET_USERNS_MODE"
#: What a user who cannot run rootless can do instead.
WAY_OUT = "run as root (sudo), or in the Vagrant VM (vagrant up && vagrant ssh)"

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MS_RDONLY = 1
_MS_REMOUNT = 32
_PR_SET_CHILD_SUBREAPER = 36

#: Entries of /run and /etc that the sandbox must not share with the host: its own
#: namespaces (ip netns), the iptables-legacy lock (owned by the host's root) and the
#: per-namespace /etc files of `ip netns exec`.
_PRIVATE_ENTRIES = {"/run": {"netns", "xtables.lock"}, "/etc": {"netns"}}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


@dataclass(frozen=True)
class KernelMode:
    """How the kernel backend can run here: "root", "rootless" or "unavailable", and why."""

    mode: str
    reason: str

    @property
    def available(self) -> bool:
        return self.mode != "unavailable"


def inside() -> bool:
    """Whether this process runs in a sandbox made by `run` (as the sandbox's root)."""
    return os.environ.get(INSIDE_ENV) == "1" and os.geteuid() == 0


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return None


def forbidden() -> str | None:
    """Why this host forbids unprivileged user namespaces (one line naming the setting and
    the way out), or None when it allows them."""
    settings = (
        ("/proc/sys/kernel/unprivileged_userns_clone", "0",
         "kernel.unprivileged_userns_clone=0"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
         "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu's AppArmor restriction)"),
        ("/proc/sys/user/max_user_namespaces", "0", "user.max_user_namespaces=0"),
    )
    for path, value, setting in settings:
        if _read(path) == value:
            return (f"this host forbids unprivileged user namespaces ({setting}): "
                    f"{WAY_OUT}")
    failure = _probe()
    if failure:
        return f"cannot make a user namespace here ({failure}): {WAY_OUT}"
    return None


def _probe() -> str | None:
    """Try, in a throw-away child, exactly what `run` does; what failed, or None."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_end)
        try:
            _enter_user_namespace_alone()
            _unshare(_CLONE_NEWNET | _CLONE_NEWNS, "unshare(CLONE_NEWNET|CLONE_NEWNS)")
            _mount(None, "/", None, _MS_REC | _MS_PRIVATE, "make / private")
            _mount("ctrnet-probe", "/run", "tmpfs", _MS_NOSUID | _MS_NODEV, "tmpfs on /run")
        except OSError as err:
            os.write(write_end, str(err).encode(errors="replace")[:400])
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    message = b""
    while chunk := os.read(read_end, 512):
        message += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return None
    return message.decode(errors="replace") or "the probe failed"


def mode() -> KernelMode:
    """Root, rootless (with the reason it works) or unavailable (with the way out)."""
    if os.geteuid() == 0:
        if inside():
            return KernelMode("rootless", os.environ.get(_WHY_ENV) or "in a user namespace")
        return KernelMode("root", "running as root")
    if sys.platform != "linux":
        return KernelMode("unavailable", f"the kernel backend needs Linux: {WAY_OUT}")
    if shutil.which("ip") is None:
        return KernelMode("unavailable", "iproute2 (ip) is not installed: sh ci/provision.sh")
    reason = forbidden()
    if reason:
        return KernelMode("unavailable", reason)
    ids = "uids 0-65536 (newuidmap)" if _subordinate_ids() else "uid 0 only"
    return KernelMode("rootless", f"unprivileged user namespaces, {ids}")


# -- making the sandbox --------------------------------------------------------------------
def _unshare(flags: int, what: str) -> None:
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, what: str,
           data: str | None = None) -> None:
    result = _libc.mount(source.encode() if source else None, target.encode(),
                         fstype.encode() if fstype else None, flags,
                         data.encode() if data else None)
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as handle:
        handle.write(text)


def _enter_user_namespace_alone() -> None:
    """unshare(CLONE_NEWUSER) and map uid/gid 0 to the caller, by the process itself (the only
    mapping an unprivileged process may write; setgroups must be denied first)."""
    uid, gid = os.geteuid(), os.getegid()
    _unshare(_CLONE_NEWUSER, "unshare(CLONE_NEWUSER)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")


def _subordinate_ids() -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(first subuid, count), (first subgid, count) of the caller, when newuidmap/newgidmap
    are installed and /etc/subuid, /etc/subgid grant some; else None."""
    if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
        return None
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None
    ranges = []
    for path, own in (("/etc/subuid", os.geteuid()), ("/etc/subgid", os.getegid())):
        found = None
        for line in (_read(path) or "").splitlines():
            fields = line.split(":")
            if len(fields) == 3 and fields[0] in (user, str(own)) and fields[1].isdigit() \
                    and fields[2].isdigit() and int(fields[2]) > 0:
                found = (int(fields[1]), int(fields[2]))
                break
        if found is None:
            return None
        ranges.append(found)
    return ranges[0], ranges[1]


def _map_from_outside(pid: int) -> bool:
    """Map the child's namespace with newuidmap/newgidmap: 0 -> caller, 1..N -> its subordinate
    ids (setgroups stays allowed). False when that is not possible here."""
    if os.geteuid() == 0:
        # Root (real, or of an enclosing sandbox) may write any mapping of ids it has:
        # 0-65535 onto the same ids, setgroups allowed.
        try:
            _write(f"/proc/{pid}/uid_map", "0 0 65536")
            _write(f"/proc/{pid}/gid_map", "0 0 65536")
            return True
        except OSError:
            pass  # an enclosing sandbox with fewer ids: the child maps itself
    ids = _subordinate_ids()
    if ids is None:
        return False
    (sub_uid, uid_count), (sub_gid, gid_count) = ids
    for tool, own, first, count in (("newuidmap", os.geteuid(), sub_uid, uid_count),
                                    ("newgidmap", os.getegid(), sub_gid, gid_count)):
        done = subprocess.run([tool, str(pid), "0", str(own), "1", "1", str(first), str(count)],
                              capture_output=True)
        if done.returncode != 0:
            return False
    return True


def _shadow(directory: str, private: set[str]) -> None:
    """Put a writable tmpfs on `directory` that still shows its entries (each bound back from
    the original), except the `private` ones, which start absent."""
    original = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        entries = sorted(os.listdir(f"/proc/self/fd/{original}"))
        _mount("ctrnet-sandbox", directory, "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"tmpfs on {directory}", "mode=0755")
        for name in entries:
            if name in private:
                continue
            source = f"/proc/self/fd/{original}/{name}"
            target = os.path.join(directory, name)
            if os.path.islink(source):
                os.symlink(os.readlink(source), target)
                continue
            if os.path.isdir(source):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            try:
                _mount(source, target, None, _MS_BIND | _MS_REC, f"bind {target}")
            except OSError:
                # Unreadable to the caller (another user's /run/user/UID): left out.
                (os.rmdir if os.path.isdir(target) else os.unlink)(target)
    finally:
        os.close(original)


def _fit_out_mounts(real_root: bool) -> None:
    """The sandbox's own /run, /etc (with /run/netns and /etc/netns empty) and /sys.

    `real_root`: the caller is the machine's root, and uid 0 inside maps onto it, so the
    kernel's uid checks of /proc/sys and /sys files would let the sandbox write the whole
    machine's settings (kernel.*, vm.*). There, /proc/sys is read-only but for
    /proc/sys/net (the sandbox's own network namespace) and /sys is read-only."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, "make / private")
    for directory, private in _PRIVATE_ENTRIES.items():
        _shadow(directory, private)
    os.mkdir("/run/netns", 0o755)
    # sysfs shows the devices of the network namespace that mounts it.
    _mount("sysfs", "/sys", "sysfs",
           _MS_NOSUID | _MS_NODEV | _MS_NOEXEC | (_MS_RDONLY if real_root else 0),
           "sysfs on /sys")
    if real_root:
        _mount("/proc/sys", "/proc/sys", None, _MS_BIND | _MS_REC, "bind /proc/sys")
        _mount(None, "/proc/sys", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY,
               "read-only /proc/sys")
        _mount("/proc/sys/net", "/proc/sys/net", None, _MS_BIND, "bind /proc/sys/net")
        # A bind copies the read-only flag of the mount it comes from: make this one rw.
        _mount(None, "/proc/sys/net", None, _MS_BIND | _MS_REMOUNT, "writable /proc/sys/net")


def run(argv: Sequence[str], started: Callable[[int], None] | None = None) -> int:
    """Run `argv` in a fresh sandbox; its exit status (128+N when killed by signal N).

    Must be called while the process is single-threaded (a multi-threaded process may not
    enter a user namespace; here only the forked child does, and it is single-threaded)."""
    # Orphans of the sandbox (a background listener a test left running) reparent to this
    # process, which ends them with the sandbox: nothing of it outlives the run.
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    to_parent_r, to_parent_w = os.pipe()
    to_child_r, to_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(to_parent_r)
        os.close(to_child_w)
        _child(list(argv), to_parent_w, to_child_r)
    os.close(to_parent_w)
    os.close(to_child_r)
    ready = os.read(to_parent_r, 1)
    if ready == b"u":
        mapped = _map_from_outside(pid)
        os.write(to_child_w, b"m" if mapped else b"s")
        if started is not None:
            started(pid)
    os.close(to_child_w)
    os.close(to_parent_r)
    try:
        return _wait(pid)
    finally:
        _end_orphans()


def _end_orphans() -> None:
    """SIGKILL and reap every process left of the sandbox (reparented to us, the subreaper)."""
    me = str(os.getpid())
    while True:
        orphans = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            stat = _read(f"/proc/{entry}/stat")
            # pid (comm) state ppid …: comm may hold spaces and parentheses, so split after ")".
            if stat and stat[stat.rfind(")") + 2:].split()[1:2] == [me]:
                orphans.append(int(entry))
        if not orphans:
            return
        for orphan in orphans:
            try:
                os.kill(orphan, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for orphan in orphans:
            try:
                os.waitpid(orphan, 0)
            except ChildProcessError:
                pass


def _child(argv: list[str], to_parent: int, from_parent: int) -> NoReturn:  # pragma: no cover
    try:
        uid, gid = os.geteuid(), os.getegid()
        real_root = uid == 0 and not inside()
        try:
            # Inside, uid 0 is named root; programs that key per-user paths on the name
            # (pytest's /tmp/pytest-of-USER) must keep the caller's, which the caller owns.
            name = pwd.getpwuid(uid).pw_name
            os.environ["USER"] = os.environ["LOGNAME"] = name
        except KeyError:
            pass
        _unshare(_CLONE_NEWUSER, "unshare(CLONE_NEWUSER)")
        os.write(to_parent, b"u")
        os.close(to_parent)
        answer = os.read(from_parent, 1)
        os.close(from_parent)
        if answer != b"m":  # no newuidmap: the single mapping a process may write itself
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        _unshare(_CLONE_NEWNET | _CLONE_NEWNS, "unshare(CLONE_NEWNET|CLONE_NEWNS)")
        _fit_out_mounts(real_root)
        os.environ[INSIDE_ENV] = "1"
        os.environ[_WHY_ENV] = ("unprivileged user namespaces, "
                                + ("uids 0-65536 (newuidmap)" if answer == b"m" else "uid 0 only"))
    except OSError as err:
        sys.stderr.write(f"ctrnet: cannot make the rootless sandbox: {err}: {WAY_OUT}\n")
        os._exit(125)
    try:
        os.execvp(argv[0], argv)
    except OSError as err:
        sys.stderr.write(f"ctrnet: {argv[0]}: {err.strerror}\n")
        os._exit(127 if err.errno == errno.ENOENT else 126)


def _wait(pid: int) -> int:
    """Wait for the sandbox's first process, passing on SIGTERM and SIGHUP (SIGINT from a
    terminal reaches it directly: it is in our process group)."""

    def forward(signum: int, frame: FrameType | None) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {signum: signal.signal(signum, forward)
                for signum in (signal.SIGTERM, signal.SIGHUP)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def reexec(argv: Sequence[str] | None = None) -> NoReturn:
    """Replace this process by a sandbox runner re-running `argv` (default: this process's own
    command line) inside a fresh sandbox. Call early, before any thread starts."""
    command = list(argv) if argv is not None else [sys.executable, *sys.orig_argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "ctrnet.backends.kernel.userns", "--",
                              *command])


def ensure(what: str) -> KernelMode:
    """Make the kernel backend usable for `what`: as root, return; as a user who may make
    user namespaces, re-run this process in a sandbox (does not return); otherwise raise
    PermissionError with the one line that says why and the way out."""
    current = mode()
    if current.mode == "rootless" and not inside():
        reexec()
    if not current.available:
        raise PermissionError(errno.EPERM, f"{what} needs the kernel backend: {current.reason}")
    return current


# -- a sandbox that outlives the command: the kernel CLI's persistent worlds -----------------
#: File in the kernel CLI's state directory naming the process that holds its sandbox.
KEEPER_FILE = "rootless-sandbox"


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): with the pid, names a process
    even after the pid is reused."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _live_keeper(state_dir: str) -> int | None:
    """The pid of the sandbox holder recorded in `state_dir`, if it is still that process,
    ours, asleep in its own user namespace."""
    text = _read(os.path.join(state_dir, KEEPER_FILE)) or ""
    fields = text.split()
    if len(fields) != 2 or not all(field.isdigit() for field in fields):
        return None
    pid = int(fields[0])
    try:
        owner = os.stat(f"/proc/{pid}").st_uid
        theirs = os.stat(f"/proc/{pid}/ns/user").st_ino
    except OSError:
        return None
    if owner != os.geteuid() or _start_time(pid) != fields[1] \
            or theirs == os.stat("/proc/self/ns/user").st_ino:
        return None
    return pid


def _start_keeper(state_dir: str) -> int:
    """Start a detached sandbox holding nothing but `sleep infinity`; its pid once ready."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child: detach, then run the sandbox from a grandchild
        os.close(read_end)
        os.setsid()
        if os.fork():
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir("/")

        def report(holder: int) -> None:
            os.write(write_end, f"{holder}\n".encode())
            os.close(write_end)

        os._exit(run(["sleep", "infinity"], started=report))
    os.close(write_end)
    os.waitpid(pid, 0)
    answer = b""
    while chunk := os.read(read_end, 64):
        answer += chunk
    os.close(read_end)
    if not answer.strip().isdigit():
        raise PermissionError(errno.EPERM, "cannot start the rootless sandbox of the kernel CLI")
    holder = int(answer)
    # Ready once it has exec'd sleep (the mounts are made before the exec).
    for _ in range(500):
        if (_read(f"/proc/{holder}/comm") or "") == "sleep":
            break
        time.sleep(0.01)
    else:
        raise PermissionError(errno.EPERM, "the rootless sandbox of the kernel CLI did not start")
    record = os.path.join(state_dir, KEEPER_FILE)
    with open(f"{record}.{os.getpid()}", "w", encoding="ascii") as out:
        out.write(f"{holder} {_start_time(holder)}\n")
    os.replace(f"{record}.{os.getpid()}", record)
    return holder


def join_keeper(state_dir: str) -> None:
    """Move this (single-threaded) process into the sandbox that keeps the kernel CLI's
    persistent world of `state_dir`, starting that sandbox first when there is none: the
    namespaces a rootless command makes outlive it, as they do as root. The holder is a
    `sleep infinity` in the sandbox; its pid is in STATE_DIR/rootless-sandbox (end it with
    `kill` to drop the whole world)."""
    if inside() or os.geteuid() == 0:
        return
    current = mode()
    if current.mode != "rootless":
        raise PermissionError(errno.EPERM, f"the kernel backend needs root: {current.reason}")
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    holder = _live_keeper(state_dir) or _start_keeper(state_dir)
    cwd = os.getcwd()
    fds = [os.open(f"/proc/{holder}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
           for kind in ("user", "mnt", "net")]
    try:
        for fd, flag, what in zip(fds, (_CLONE_NEWUSER, _CLONE_NEWNS, _CLONE_NEWNET),
                                  ("user", "mount", "network"), strict=True):
            if _libc.setns(fd, flag) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"joining the sandbox's {what} namespace: "
                                   f"{os.strerror(err)}")
    finally:
        for fd in fds:
            os.close(fd)
    try:
        os.chdir(cwd)
    except OSError:
        os.chdir("/")
    os.environ[INSIDE_ENV] = "1"
    os.environ[_WHY_ENV] = f"unprivileged user namespaces, kept by pid {holder}"


def main(args: Sequence[str]) -> int:
    if args and args[0] == "--fresh":
        # A new sandbox even as root or inside one (`ctrnet sim compare`'s kernel side):
        # the command's privileges end at its own user namespace.
        command = list(args[1:])
        if command and command[0] == "--":
            command = command[1:]
        reason = None if os.geteuid() == 0 else forbidden()
        if reason or not command:
            print(f"ctrnet: {reason or 'no command given'}", file=sys.stderr)
            return 2 if not command else 1
        return run(command)
    if list(args) == ["--check"]:
        current = mode()
        print(f"kernel backend: {current.mode} ({current.reason})")
        return 0 if current.available else 1
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    if os.geteuid() == 0:  # already root (or already inside): nothing to sandbox
        os.execvp(args[0], list(args))
    reason = forbidden()
    if reason:
        print(f"ctrnet: {reason}", file=sys.stderr)
        return 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
