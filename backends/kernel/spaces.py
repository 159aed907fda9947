"""The namespaces of a kernel world: made without fork, each with its netlink channel.

A namespace is born by unshare(CLONE_NEWNET) in the calling thread, pinned on /run/netns,
given its sysctls and its netlink channel while the thread is inside, and the thread goes
back home: one pass, no child process. Removal deletes the namespace's devices first, so
that the peers of its veths in other namespaces are gone when `destroy` returns (the
kernel's own namespace teardown runs later, from a workqueue).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from pyroute2 import netns
from pyroute2.netlink.exceptions import NetlinkError

from . import nsfs
from .observe import IFF_LOOPBACK
from .rtnl import Channel, link_msg

#: IPv6 off before any device exists: link-local autoconfiguration and MLD reports would
#: teach bridges MAC addresses at moments no test controls.
_IPV6_OFF = ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6")
#: When set: the path of a user namespace that is to own every namespace made here. The
#: grader sets it so that an untrusted plugin can run as root of that user namespace only,
#: able to configure the world's namespaces and nothing of the machine's
#: (`ctrnet.grade.runner`, `ctrnet.grade.launch`).
OWNER_ENV = "CTRNET_NETNS_OWNER"
_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(eq=False)
class Space:
    """One namespace of a world: logical name, real (/run/netns) name, fd, netlink channel."""

    name: str
    real: str
    fd: int
    rtnl: Channel
    #: netnsid (as this namespace numbers its peers) -> logical name of the peer namespace
    nsids: dict[int, str] = field(default_factory=dict)


def make(name: str, real: str, *, ipv6: bool) -> Space:
    """Create and pin a namespace; on any failure nothing of it remains."""
    home = nsfs.current_netns_inode()
    owner = os.environ.get(OWNER_ENV)
    if owner:
        _make_owned(real, owner)
        return _enter_and_fit(name, real, home, ipv6=ipv6)
    try:
        with nsfs.entered(None):
            return _pin_and_fit(name, real, home, ipv6=ipv6)
    except nsfs.UnshareError:
        pass
    # unshare refused in this thread: let pyroute2 make it in a child process, then enter.
    netns.create(real)
    return _enter_and_fit(name, real, home, ipv6=ipv6)


def _make_owned(real: str, owner: str) -> None:
    """A namespace born in a child that entered the user namespace `owner` (so that user
    namespace owns it), pinned on /run/netns from here (the machine's mount namespace)."""
    nsenter = shutil.which("nsenter", path=_SYSTEM_PATH) or "nsenter"
    unshare = shutil.which("unshare", path=_SYSTEM_PATH) or "unshare"
    child = subprocess.Popen(
        [nsenter, f"--user={owner}", "--", unshare, "--net", "--", "/bin/sh", "-c",
         "echo ready; exec cat >/dev/null"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline() != b"ready\n":
            child.wait()
            why = child.stderr.read().decode(errors="replace").strip() if child.stderr else ""
            raise OSError(errno.EPERM, f"cannot make namespace {real} in user namespace "
                          f"{owner}: {why or 'the helper failed'}")
        nsfs.create_from(f"/proc/{child.pid}/ns/net", real)
    finally:
        child.stdin.close()
        child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def _enter_and_fit(name: str, real: str, home: int, *, ipv6: bool) -> Space:
    """Enter the pinned namespace `real` and fit it out; unpin it on failure."""
    try:
        fd = nsfs.open_netns(real)
        try:
            with nsfs.entered(fd):
                return _fit(name, real, home, ipv6=ipv6)
        finally:
            os.close(fd)
    except BaseException:
        nsfs.remove(real)
        raise


def _pin_and_fit(name: str, real: str, home: int, *, ipv6: bool) -> Space:
    """Inside a freshly unshared namespace: pin it on /run/netns, then fit it out."""
    nsfs.create_here(real)
    try:
        return _fit(name, real, home, ipv6=ipv6)
    except BaseException:
        nsfs.remove(real)
        raise


def _fit(name: str, real: str, home: int, *, ipv6: bool) -> Space:
    """Inside the new namespace: sysctls, netlink channel, a descriptor to come back by."""
    if nsfs.current_netns_inode() == home:
        # Never configure the namespace we came from as if it were a sandbox.
        raise OSError(errno.EPERM, f"namespace {real} is the caller's own namespace")
    if not ipv6:
        for key in _IPV6_OFF:
            try:
                nsfs.write_sysctl(key, "1")
            except FileNotFoundError:  # kernel without IPv6: nothing to disable
                pass
    channel = Channel()
    try:
        fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except BaseException:
        channel.close()
        raise
    return Space(name=name, real=real, fd=fd, rtnl=channel)


def adopt(name: str, real: str) -> Space:
    """Take up a namespace a persistent world pinned earlier: its fd and a netlink channel."""
    fd = nsfs.open_netns(real)
    try:
        with nsfs.entered(fd):
            return Space(name=name, real=real, fd=fd, rtnl=Channel())
    except BaseException:
        os.close(fd)
        raise


def release(space: Space) -> None:
    """Let go of the namespace without removing it (a persistent world outlives its process)."""
    try:
        space.rtnl.close()
    finally:
        os.close(space.fd)


def empty(space: Space) -> None:
    """Delete every device of the namespace but lo: a veth takes its peer with it, wherever
    the peer lives, synchronously."""
    for msg in space.rtnl.links():
        if int(msg["flags"]) & IFF_LOOPBACK:
            continue
        try:
            space.rtnl.link_delete(link_msg(index=int(msg["index"])))
        except NetlinkError as err:
            if err.code != errno.ENODEV:  # already gone with its veth peer
                raise


def destroy(space: Space) -> None:
    """Release the namespace: close its channel and fd, unpin it."""
    try:
        release(space)
    finally:
        nsfs.remove(space.real)
