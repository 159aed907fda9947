"""Network-namespace plumbing without fork: create, enter, leave and remove namespaces.

A namespace is entered by the *calling thread only* (setns(2) acts on the thread), always
inside `entered()`, which restores the thread's previous namespace in a finally and defers
SIGINT/SIGTERM meanwhile, so no signal can leave a thread stranded in a sandbox namespace.
Namespaces are made `ip netns`-compatible: a bind mount of the namespace on /run/netns/NAME.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Where `ip netns` keeps its namespaces (iproute2's NETNS_RUN_DIR).
NETNS_RUN_DIR = "/run/netns"
#: Where `ip netns exec` finds per-namespace /etc files (iproute2's NETNS_ETC_DIR).
NETNS_ETC_DIR = "/etc/netns"

_CLONE_NEWNET = 0x40000000
_MS_REC = 0x4000
_MS_BIND = 0x1000
_MS_SHARED = 1 << 20
_MNT_DETACH = 2
_THREAD_NETNS = "/proc/thread-self/ns/net"
#: Signals whose handlers must not run while a thread sits in a sandbox namespace.
_DEFERRED = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_run_dir_ready = threading.Lock()
_run_dir_shared = False


class UnshareError(OSError):
    """unshare(CLONE_NEWNET) refused in this thread (the caller may fall back to a fork)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def netns_path(real_name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, real_name)


def current_netns_inode() -> int:
    """The inode of the calling thread's network namespace (identifies the namespace)."""
    return os.stat(_THREAD_NETNS).st_ino


def _setns(fd: int, what: str) -> None:
    _check(_libc.setns(fd, _CLONE_NEWNET), what)


@contextmanager
def entered(target_fd: int | None) -> Iterator[None]:
    """Run the body with the calling thread in the namespace `target_fd` (None: a new,
    unshared namespace), and put the thread back where it was, whatever happens."""
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    try:
        home = os.open(_THREAD_NETNS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if target_fd is None:
                if _libc.unshare(_CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise UnshareError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
            else:
                _setns(target_fd, "setns into sandbox namespace")
            try:
                yield
            finally:
                # A thread left in a sandbox namespace would make the next root-namespace
                # operation of this thread act in the sandbox (or worse, the reverse).
                _setns(home, "setns back to the original namespace")
        finally:
            os.close(home)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def _ensure_run_dir() -> None:
    """Make /run/netns a shared mount, as ip-netns does, so namespace mounts made here are
    seen by every mount namespace that has it (ip netns exec runs in a private copy)."""
    global _run_dir_shared
    with _run_dir_ready:
        if _run_dir_shared:
            return
        os.makedirs(NETNS_RUN_DIR, mode=0o755, exist_ok=True)
        path = NETNS_RUN_DIR.encode()
        if _libc.mount(b"none", path, None, _MS_SHARED | _MS_REC, None) != 0:
            # Not a mount point yet: bind it onto itself first (iproute2's netns_add).
            _check(_libc.mount(path, path, b"none", _MS_BIND | _MS_REC, None), "bind /run/netns")
            _check(_libc.mount(b"none", path, None, _MS_SHARED | _MS_REC, None), "share /run/netns")
        _run_dir_shared = True


def create_here(real_name: str) -> None:
    """Pin the calling thread's (freshly unshared) namespace as /run/netns/`real_name`.

    Call inside `entered(None)`. EEXIST when the name is taken."""
    _ensure_run_dir()
    path = netns_path(real_name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    try:
        _check(
            _libc.mount(_THREAD_NETNS.encode(), path.encode(), b"none", _MS_BIND, None),
            f"bind-mount namespace on {path}",
        )
    except BaseException:
        os.unlink(path)
        raise


def create_from(source: str, real_name: str) -> None:
    """Pin the namespace `source` (a /proc/PID/ns/net path) as /run/netns/`real_name`."""
    _ensure_run_dir()
    path = netns_path(real_name)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0))
    try:
        _check(_libc.mount(source.encode(), path.encode(), b"none", _MS_BIND, None),
               f"bind-mount namespace on {path}")
    except BaseException:
        os.unlink(path)
        raise


def open_netns(real_name: str) -> int:
    """A file descriptor on /run/netns/`real_name` (ENOENT when there is none)."""
    return os.open(netns_path(real_name), os.O_RDONLY | os.O_CLOEXEC)


def remove(real_name: str) -> None:
    """Unpin /run/netns/`real_name`; the kernel destroys the namespace once nothing holds it."""
    path = netns_path(real_name)
    if _libc.umount2(path.encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not mounted (half-made)
            raise OSError(err, f"umount {path}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    _remove_etc(real_name)


def etc_dir(real_name: str) -> str:
    """/etc/netns/`real_name`: the namespace's own /etc files, as `ip netns exec` sees them."""
    return os.path.join(NETNS_ETC_DIR, real_name)


def _remove_etc(real_name: str) -> None:
    """Remove the namespace's /etc/netns directory, and /etc/netns itself once empty."""
    shutil.rmtree(etc_dir(real_name), ignore_errors=True)
    try:
        os.rmdir(NETNS_ETC_DIR)
    except OSError:  # not empty (other namespaces' files) or not there
        pass


def listed() -> list[str]:
    """Names in /run/netns."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def sysctl_path(key: str) -> str:
    """/proc/sys path of a dotted key; /proc/sys/net follows the *thread's* namespace."""
    return "/proc/sys/" + key.replace(".", "/")


def read_sysctl(key: str) -> str:
    with open(sysctl_path(key), encoding="ascii") as handle:
        return handle.read().strip()


def write_sysctl(key: str, value: str) -> None:
    with open(sysctl_path(key), "w", encoding="ascii") as handle:
        handle.write(value)
