"""KernelBackend: the Backend protocol on the real kernel, inside namespaces it owns.

A world is a sandbox *host* namespace plus the namespaces made with `netns_add`, each
pinned as /run/netns/ctrnet-<pid>-<seq>-<name>, so parallel runs never collide and teardown
knows what is its own. Nothing is ever done in the root namespace. Every request goes over
the namespace's cached netlink socket (no fork per operation); the kernel validates, and its
errno reaches the caller unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import socket
import threading
import time
from pathlib import Path

from pyroute2.netlink.exceptions import NetlinkError

from ctrnet.backend import HOST_NS, LAUNCH_IN_NAMESPACE, ORACLE, THREAD_SAFE, Backend
from ctrnet.errors import BackendError, InvalidConfig, NotFound, from_errno
from ctrnet.safefiles import open_nofollow, secure_dir
from ctrnet.types import Address, FdbEntry, Link, Neighbour, PingResult, Route, RouteDecision

from . import lifecycle, nsfs, observe, probe, spaces, values
from .capture import CaptureMixin
from .errors import kernel_errors
from .etcfiles import EtcFilesMixin
from .lifecycle import NETNS_PREFIX
from .netfilter import NetfilterMixin
from .rtnl import (
    AF_BRIDGE,
    IFF_UP,
    addr_msg,
    fdb_msg,
    link_msg,
    linkinfo,
    neigh_delete_msg,
    port_info,
    route_msg,
)
from .spaces import Space
from .trace import TraceMixin

_worlds = itertools.count(1)
#: File in a persistent world's state directory holding its id (the namespaces' prefix).
WORLD_ID_FILE = "kernel-world"


#: A persistent world's id: "w" and six hex digits ("w" so that `sweep_stale`, which removes
#: the worlds of dead pids, never takes it).
_WORLD_ID_RE = re.compile(r"w[0-9a-f]{6}")
#: How long taking up a namespace another process is making (or removing) may wait.
_ADOPT_WAIT = 2.0


def _persistent_world_id(state_dir: str) -> str:
    """The id of the persistent world kept in `state_dir`, made on first use (by exactly one
    of several processes starting at once: the file is linked into place, never replaced).
    A file that is there but holds no valid id is an error with the way out, never a reason
    to start a new world: that would orphan every namespace of the old one."""
    directory = secure_dir(Path(state_dir))
    path = directory / WORLD_ID_FILE
    text = _read_world_id(path)
    if text is None:
        tmp = directory / f".{WORLD_ID_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, ("w" + os.urandom(3).hex() + "\n").encode())
            os.fsync(fd)
            os.close(fd)
            with contextlib.suppress(FileExistsError):  # another process was first: theirs
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        text = _read_world_id(path)
    world_id = (text or "").strip()
    if not _WORLD_ID_RE.fullmatch(world_id):
        found = sorted({real[len(NETNS_PREFIX):].split("-", 1)[0] for real in nsfs.listed()
                        if real.startswith(NETNS_PREFIX + "w")})
        known = (f"persistent worlds with namespaces on this machine: {', '.join(found)}"
                 if found else "no persistent world has namespaces on this machine")
        raise InvalidConfig(
            f"world identity file {path} is empty or damaged ({(text or '')[:20]!r}); ctrnet "
            f"will not start a new world over it ({known}): write the right id into it "
            f"(echo {found[0] if found else 'wXXXXXX'} > {path}), or remove it to start a "
            "new, empty world")
    return world_id


def _read_world_id(path: Path) -> str | None:
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InvalidConfig(f"world identity file {path} cannot be read ({exc.strerror}): "
                            "fix its permissions") from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read(64).decode("ascii", "replace")


def _same_namespace(space: Space) -> bool:
    """Whether /run/netns still pins the namespace `space` holds (not a new one of the same
    name that another process made after removing the old)."""
    try:
        return os.stat(nsfs.netns_path(space.real)).st_ino == os.fstat(space.fd).st_ino
    except OSError:
        return False


def _centiseconds(seconds: float) -> int:
    return round(seconds * observe.USER_HZ)


class KernelBackend(NetfilterMixin, EtcFilesMixin, CaptureMixin, TraceMixin, Backend):
    """A world of real network namespaces. `ipv6=True` keeps IPv6 enabled in them."""

    name = "kernel"
    # THREAD_SAFE: the netfilter, ebtables and tc calls (tool processes; see netfilter.py) may
    # run on another thread beside the netlink calls, which is what the core overlaps.
    capabilities = probe.host_capabilities() | {THREAD_SAFE, LAUNCH_IN_NAMESPACE, ORACLE}

    def __init__(self, *, ipv6: bool = False, state_dir: str | None = None) -> None:
        """A throw-away world, removed by `close()`; or, with `state_dir`, a persistent world
        (the operator's CLI): its namespaces outlive the process, a later KernelBackend with
        the same `state_dir` takes them up again, and only `destroy()` removes them."""
        self._ipv6 = ipv6
        self._persistent = state_dir is not None
        if state_dir is None:
            self.world_id = f"{os.getpid()}-{next(_worlds)}"
        else:
            self.world_id = _persistent_world_id(state_dir)
        self._spaces: dict[str, Space] = {}
        self._closed = False
        lifecycle.register(self)
        try:
            if self._persistent:
                self._adopt_all()
                if HOST_NS not in self._spaces:
                    self._adopt_host()
            if HOST_NS not in self._spaces:
                self._make(HOST_NS)
        except BaseException:
            self.close()
            raise

    def _adopt_all(self) -> None:
        for name in self._listed():
            self._adopt(name)

    def _listed(self) -> set[str]:
        """The logical names of this world's namespaces pinned on /run/netns now (the
        machine's other namespaces are not ours and are not looked at)."""
        return {real[len(self.prefix):] for real in nsfs.listed()
                if real.startswith(self.prefix) and len(real) > len(self.prefix)}

    def _adopt(self, name: str) -> Space | None:
        """Take up namespace `name` of this persistent world; None when it is not there, or
        not whole: another process is making it (its file exists, the bind mount does not
        yet) or removing it (unmounted, not yet unlinked) at this moment. Both are normal
        when several commands run at once, and none of them is this process's business."""
        try:
            space = spaces.adopt(name, self.prefix + name)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.EINVAL):
                return None
            with kernel_errors(f"taking up namespace {name}"):
                raise
        self._spaces[name] = space
        return space

    def _refresh(self) -> None:
        """A persistent world is shared with other processes: see the namespaces they made
        since, forget the ones they removed (or removed and made again)."""
        listed = self._listed()
        for name, space in list(self._spaces.items()):
            if name == HOST_NS and name in listed:
                continue
            if name in listed and _same_namespace(space):
                continue
            del self._spaces[name]
            with contextlib.suppress(OSError):
                spaces.release(space)
        for name in listed - set(self._spaces):
            self._adopt(name)

    def _adopt_host(self) -> None:
        """The world's host namespace: made, or taken up when a process starting at the same
        moment made it first (it may need a moment to be whole)."""
        deadline = time.monotonic() + _ADOPT_WAIT
        while True:
            try:
                self._make(HOST_NS)
                return
            except BackendError as err:
                if err.errno != errno.EEXIST:
                    raise
            if self._adopt(HOST_NS) is not None:
                return
            if time.monotonic() > deadline:
                raise from_errno(errno.EBUSY, f"namespace {self.prefix}{HOST_NS} exists but "
                                              "is not a namespace (a half-made one?)")
            time.sleep(0.01)

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        """Every real namespace name of this world starts with this."""
        return f"{NETNS_PREFIX}{self.world_id}-"

    def real_netns(self, ns: str) -> str:
        """The /run/netns name of logical namespace `ns` (for `ip netns exec`, testinfra)."""
        return self._space(ns).real

    def netns_path(self, ns: str) -> str:
        return f"/run/netns/{self.real_netns(ns)}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_probes()
        failures: list[BaseException] = []
        finish = spaces.release if self._persistent else spaces.destroy
        try:
            while self._spaces:
                _, space = self._spaces.popitem()
                try:
                    finish(space)
                except Exception as err:  # noqa: BLE001 - remove the others all the same
                    failures.append(err)
        finally:
            lifecycle.unregister(self)
        if failures:
            raise failures[0]

    def destroy(self) -> None:
        """Remove the world's namespaces, persistent or not, and close it."""
        self._persistent = False
        self._closed = False
        self.close()

    def _make(self, ns: str) -> None:
        with kernel_errors(f"creating namespace {ns}"):
            self._spaces[ns] = spaces.make(ns, self.prefix + ns, ipv6=self._ipv6)

    def _space(self, ns: str) -> Space:
        try:
            return self._spaces[ns]
        except KeyError:
            # Made by another process after this one started?
            space = self._adopt(ns) if self._persistent and ns else None
            if space is None:
                raise NotFound(f"namespace {ns!r} not found", errno.ENOENT) from None
            return space

    # -- namespaces ----------------------------------------------------------------------
    def netns_add(self, ns: str) -> None:
        # ip-netns refuses these: the name is a file name under /run/netns.
        if not ns or "/" in ns or "\0" in ns or ns in (".", ".."):
            raise from_errno(errno.EINVAL, f"invalid namespace name {ns!r}")
        if ns in self._spaces:
            raise from_errno(errno.EEXIST, f"namespace {ns} exists")
        self._make(ns)

    def netns_delete(self, ns: str) -> None:
        space = self._space(ns)
        if ns == HOST_NS:
            raise from_errno(errno.EBUSY, "the host namespace lives as long as its world")
        self._close_probes(ns)
        with kernel_errors(f"deleting namespace {ns}"):
            spaces.empty(space)
            del self._spaces[ns]
            spaces.destroy(space)
        for other in self._spaces.values():
            other.nsids = {k: v for k, v in other.nsids.items() if v != ns}

    def netns_list(self) -> list[str]:
        if self._persistent:
            self._refresh()
        return sorted(ns for ns in self._spaces if ns != HOST_NS)

    # -- links ---------------------------------------------------------------------------
    def veth_add(
        self, ns: str, name: str, peer: str, peer_ns: str | None = None, *, mtu: int | None = None
    ) -> None:
        space = self._space(ns)
        target = self._space(peer_ns) if peer_ns is not None else space
        peer_attrs: list[object] = [("IFLA_IFNAME", peer)]
        if target is not space:
            peer_attrs.append(("IFLA_NET_NS_FD", target.fd))
        mtu_attrs = [("IFLA_MTU", mtu)] if mtu is not None else []
        info = [("VETH_INFO_PEER", {"attrs": peer_attrs + mtu_attrs})]
        msg = link_msg(name, attrs=[*mtu_attrs, linkinfo("veth", info)])
        # One RTM_NEWLINK makes both ends or neither: nothing half-built on failure.
        with kernel_errors(f"veth {name} in namespace {ns} (peer {peer} in {target.name})"):
            space.rtnl.link_new(msg)
            self._learn_nsids(space, target)

    def _learn_nsids(self, one: Space, other: Space) -> None:
        """Remember the ids two namespaces give each other (the kernel allocates them when a
        link spans both), so a veth's IFLA_LINK_NETNSID resolves without asking every
        namespace of the world."""
        if one is other:
            return
        for here, there in ((one, other), (other, one)):
            nsid = here.rtnl.nsid_of(there.fd)
            if nsid < 0:
                here.rtnl.nsid_assign(there.fd)
                nsid = here.rtnl.nsid_of(there.fd)
            if nsid >= 0:
                here.nsids[nsid] = there.name

    def bridge_add(
        self,
        ns: str,
        name: str,
        *,
        stp_state: int = 0,
        forward_delay: float = 15.0,
        ageing_time: float = 300.0,
    ) -> None:
        space = self._space(ns)
        data = [
            ("IFLA_BR_FORWARD_DELAY", _centiseconds(forward_delay)),
            ("IFLA_BR_AGEING_TIME", _centiseconds(ageing_time)),
            ("IFLA_BR_STP_STATE", stp_state),
        ]
        with kernel_errors(f"bridge {name} in namespace {ns}"):
            space.rtnl.link_new(link_msg(name, attrs=[linkinfo("bridge", data)]))

    def bridge_set(
        self,
        ns: str,
        name: str,
        *,
        stp_state: int | None = None,
        forward_delay: float | None = None,
        ageing_time: float | None = None,
    ) -> None:
        space = self._space(ns)
        data: list[object] = []
        if forward_delay is not None:
            data.append(("IFLA_BR_FORWARD_DELAY", _centiseconds(forward_delay)))
        if ageing_time is not None:
            data.append(("IFLA_BR_AGEING_TIME", _centiseconds(ageing_time)))
        if stp_state is not None:
            data.append(("IFLA_BR_STP_STATE", stp_state))
        with kernel_errors(f"bridge {name} in namespace {ns}"):
            space.rtnl.link_change(link_msg(name, attrs=[linkinfo("bridge", data)]))

    def _change(self, ns: str, name: str, what: str, attrs: list[object]) -> None:
        space = self._space(ns)
        with kernel_errors(f"{what} of {name} in namespace {ns}"):
            space.rtnl.link_change(link_msg(name, attrs=attrs))

    def link_set_up(self, ns: str, name: str, up: bool = True) -> None:
        space = self._space(ns)
        msg = link_msg(name)
        msg["change"] = IFF_UP
        msg["flags"] = IFF_UP if up else 0
        with kernel_errors(f"setting {name} {'up' if up else 'down'} in namespace {ns}"):
            space.rtnl.link_change(msg)
            self._settle(space, name)

    def _settle(self, space: Space, name: str) -> None:
        """Run the pending linkwatch events of a device whose state just changed, of its veth
        peer (whose carrier follows) and of its bridge (whose port state follows): the kernel
        applies them from a workqueue up to a second later, and until then operstate, carrier
        and the bridge port state are stale. A single RTM_GETLINK syncs one device."""
        msg = space.rtnl.link_get(name)
        master = msg.get_attr("IFLA_MASTER")
        if master:
            space.rtnl.link_get_index(int(master))
        ref = observe.veth_peer_ref(msg)
        if ref is not None:
            peer_index, nsid = ref
            owner = space if nsid is None else self._peer_space(space, nsid)
            if owner is not None:
                peer = owner.rtnl.link_get_index(peer_index)
                peer_master = peer.get_attr("IFLA_MASTER")
                if peer_master:
                    owner.rtnl.link_get_index(int(peer_master))

    def link_set_master(self, ns: str, name: str, master: str | None) -> None:
        space = self._space(ns)
        index = 0
        if master is not None:
            with kernel_errors(f"master {master} in namespace {ns}"):
                index = space.rtnl.link_index(master)
        self._change(ns, name, "master", [("IFLA_MASTER", index)])

    def link_set_mtu(self, ns: str, name: str, mtu: int) -> None:
        # IFLA_MTU is a u32 the kernel reads as an int: a negative MTU arrives as itself and
        # gets the kernel's own answer ("mtu less than device minimum", EINVAL); beyond a C
        # int there is nothing to send (ip(8) calls it an invalid value).
        if not -(2**31) <= mtu <= 2**31 - 1:
            raise from_errno(errno.EINVAL, f"mtu {mtu} of {name} in namespace {ns}: not an int")
        self._change(ns, name, "mtu", [("IFLA_MTU", mtu & 0xFFFFFFFF)])

    def link_set_mac(self, ns: str, name: str, mac: str) -> None:
        self._change(ns, name, "mac address", [("IFLA_ADDRESS", values.mac(mac))])

    def link_rename(self, ns: str, name: str, new_name: str) -> None:
        space = self._space(ns)
        if not new_name:
            # The kernel reads an empty IFLA_IFNAME as "no new name" and does nothing; ip(8)
            # refuses it as an invalid name, and so do we.
            raise from_errno(errno.EINVAL, f"renaming {name} in namespace {ns}: empty name")
        with kernel_errors(f"renaming {name} to {new_name} in namespace {ns}"):
            index = space.rtnl.link_index(name)
            space.rtnl.link_change(link_msg(new_name, index=index))

    def link_set_netns(self, ns: str, name: str, target_ns: str) -> None:
        target = self._space(target_ns)
        self._change(ns, name, f"namespace ({target_ns})", [("IFLA_NET_NS_FD", target.fd)])
        self._learn_nsids(self._space(ns), target)

    def bridge_port_set(
        self, ns: str, name: str, *, hairpin: bool | None = None, learning: bool | None = None
    ) -> None:
        data: list[object] = []
        if hairpin is not None:
            data.append(("IFLA_BRPORT_MODE", int(hairpin)))
        if learning is not None:
            data.append(("IFLA_BRPORT_LEARNING", int(learning)))
        self._change(ns, name, "bridge port flags", [port_info(data)])

    def link_delete(self, ns: str, name: str) -> None:
        space = self._space(ns)
        with kernel_errors(f"deleting {name} in namespace {ns}"):
            space.rtnl.link_delete(link_msg(name))

    def _names(self, space: Space) -> dict[int, str]:
        return {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in space.rtnl.links()}

    def _peer_space(self, space: Space, nsid: int) -> Space | None:
        """The world namespace that `space` calls `nsid` (IFLA_LINK_NETNSID of a veth)."""
        if nsid not in space.nsids:
            for other in self._spaces.values():
                if other is not space:
                    other_id = space.rtnl.nsid_of(other.fd)
                    if other_id >= 0:
                        space.nsids[other_id] = other.name
        owner = space.nsids.get(nsid)
        return self._spaces.get(owner) if owner is not None else None

    def link_list(self, ns: str) -> list[Link]:
        space = self._space(ns)
        with kernel_errors(f"listing links of namespace {ns}"):
            # A dump reports operstates as they are, pending linkwatch events included; one
            # RTM_GETLINK per device settles each first (see Channel.link_get).
            names = self._names(space)
            msgs = [space.rtnl.link_get_index(index) for index in sorted(names)]
            peer_names: dict[str, dict[int, str]] = {ns: names}
            return [self._describe(space, msg, peer_names) for msg in msgs]

    def link_get(self, ns: str, name: str) -> Link:
        space = self._space(ns)
        with kernel_errors(f"device {name} in namespace {ns}"):
            msg = space.rtnl.link_get(name)
            return self._describe(space, msg, {ns: self._names(space)})

    def _describe(self, space: Space, msg: object, names: dict[str, dict[int, str]]) -> Link:
        """The Link of `msg`; `names` caches index->name per namespace, for master and peer."""
        peer: tuple[str | None, str | None] = (None, None)
        ref = observe.veth_peer_ref(msg)
        if ref is not None:
            peer_index, nsid = ref
            owner = space if nsid is None else self._peer_space(space, nsid)
            if owner is not None:
                if owner.name not in names:
                    names[owner.name] = self._names(owner)
                peer = (names[owner.name].get(peer_index), owner.name)
        return observe.link(space.name, msg, names[space.name], peer)

    def _index(self, space: Space, ifname: str) -> int:
        with kernel_errors(f"device {ifname} in namespace {space.name}"):
            return space.rtnl.link_index(ifname)

    # -- addresses -----------------------------------------------------------------------
    def addr_add(self, ns: str, ifname: str, cidr: str) -> None:
        space = self._space(ns)
        ip, prefixlen = values.interface(cidr)
        index = self._index(space, ifname)
        with kernel_errors(f"address {cidr} on {ifname} in namespace {ns}"):
            space.rtnl.address_add(addr_msg(index, ip, prefixlen))

    def addr_delete(self, ns: str, ifname: str, cidr: str) -> None:
        space = self._space(ns)
        ip, prefixlen = values.interface(cidr)
        index = self._index(space, ifname)
        with kernel_errors(f"address {cidr} on {ifname} in namespace {ns}"):
            space.rtnl.address_delete(addr_msg(index, ip, prefixlen))

    def addr_list(self, ns: str, ifname: str | None = None) -> list[Address]:
        space = self._space(ns)
        with kernel_errors(f"listing addresses of namespace {ns}"):
            names = self._names(space)
            msgs = space.rtnl.addresses()
        values.require_name(names, ifname, ns)
        found = [observe.address(ns, m, names) for m in msgs]
        return [a for a in found if ifname is None or a.ifname == ifname]

    # -- routes --------------------------------------------------------------------------
    def _route_msg(self, space: Space, dst: str, gateway: str | None, dev: str | None,
                   metric: int | None, *, adding: bool) -> object:
        prefix, prefixlen = values.destination(dst)
        gateway = values.address(gateway) if gateway is not None else None
        oif = self._index(space, dev) if dev is not None else None
        return route_msg(prefix, prefixlen, gateway=gateway, oif=oif, metric=metric,
                         adding=adding)

    def route_add(self, ns: str, dst: str, *, gateway: str | None = None,
                  dev: str | None = None, metric: int | None = None) -> None:
        space = self._space(ns)
        msg = self._route_msg(space, dst, gateway, dev, metric, adding=True)
        with kernel_errors(f"route {dst} in namespace {ns}"):
            space.rtnl.route_add(msg)

    def route_delete(self, ns: str, dst: str, *, gateway: str | None = None,
                     dev: str | None = None, metric: int | None = None) -> None:
        space = self._space(ns)
        msg = self._route_msg(space, dst, gateway, dev, metric, adding=False)
        with kernel_errors(f"route {dst} in namespace {ns}"):
            space.rtnl.route_delete(msg)

    def route_list(self, ns: str) -> list[Route]:
        space = self._space(ns)
        with kernel_errors(f"listing routes of namespace {ns}"):
            names = self._names(space)
            msgs = space.rtnl.routes()
        return [observe.route(ns, m, names) for m in msgs if observe.is_main_table(m)]

    def route_get(self, ns: str, dst: str) -> RouteDecision:
        space = self._space(ns)
        ip = values.address(dst)
        with kernel_errors(f"route to {dst} in namespace {ns}"):
            msg = space.rtnl.route_get(ip)
            names = self._names(space)
        return observe.route_decision(ip, msg, names)

    # -- neighbours and FDB ------------------------------------------------------------------
    def neigh_list(self, ns: str, ifname: str | None = None) -> list[Neighbour]:
        space = self._space(ns)
        with kernel_errors(f"listing neighbours of namespace {ns}"):
            names = self._names(space)
            msgs = space.rtnl.neighbours(socket.AF_INET)
        values.require_name(names, ifname, ns)
        found = []
        for msg in msgs:
            state = observe.neigh_state(int(msg["state"]))
            dev = names.get(int(msg["ifindex"]), "")
            if state is None or (ifname is not None and dev != ifname):
                continue
            mac = msg.get_attr("NDA_LLADDR")
            found.append(Neighbour(ns=ns, ifname=dev, ip=str(msg.get_attr("NDA_DST")),
                                   mac=str(mac).lower() if mac else None, state=state))
        return found

    def neigh_flush(self, ns: str, ifname: str | None = None) -> None:
        space = self._space(ns)
        keep = observe.NUD_PERMANENT | observe.NUD_NOARP  # as `ip neigh flush` keeps them
        with kernel_errors(f"flushing neighbours of namespace {ns}"):
            names = self._names(space)
            values.require_name(names, ifname, ns)
            for msg in space.rtnl.neighbours(socket.AF_INET):
                index = int(msg["ifindex"])
                if int(msg["state"]) & keep or (ifname is not None and names.get(index) != ifname):
                    continue
                try:
                    space.rtnl.neighbour_delete(
                        neigh_delete_msg(index, str(msg.get_attr("NDA_DST"))))
                except NetlinkError as err:
                    if err.code != errno.ENOENT:  # ENOENT: it expired meanwhile
                        raise

    def fdb_list(self, ns: str, bridge: str | None = None) -> list[FdbEntry]:
        space = self._space(ns)
        with kernel_errors(f"listing the FDB of namespace {ns}"):
            names = self._names(space)
            msgs = space.rtnl.neighbours(AF_BRIDGE)
        values.require_name(names, bridge, ns)
        found: list[FdbEntry] = []
        for msg in msgs:
            entry = observe.fdb_entry(ns, msg, names)
            # The kernel reports an entry once per VLAN of the port (vid 0 and the default
            # pvid 1 even without VLAN filtering); ctrnet has no VLANs, so once.
            if entry is None or entry in found or (bridge is not None and entry.bridge != bridge):
                continue
            found.append(entry)
        return found

    def fdb_add(self, ns: str, port: str, mac: str) -> None:
        space = self._space(ns)
        index = self._index(space, port)
        with kernel_errors(f"FDB entry {mac} on {port} in namespace {ns}"):
            space.rtnl.neighbour_add(fdb_msg(index, values.mac(mac)))

    def fdb_delete(self, ns: str, port: str, mac: str) -> None:
        space = self._space(ns)
        index = self._index(space, port)
        with kernel_errors(f"FDB entry {mac} on {port} in namespace {ns}"):
            space.rtnl.neighbour_delete(fdb_msg(index, values.mac(mac)))

    # -- sysctls -------------------------------------------------------------------------
    def sysctl_get(self, ns: str, key: str) -> str:
        space = self._space(ns)
        values.check_sysctl_key(key)
        with kernel_errors(f"sysctl {key} in namespace {ns}"), nsfs.entered(space.fd):
            return nsfs.read_sysctl(key)

    def sysctl_set(self, ns: str, key: str, value: str) -> None:
        space = self._space(ns)
        values.check_sysctl_key(key)
        with kernel_errors(f"sysctl {key}={value} in namespace {ns}"), nsfs.entered(space.fd):
            nsfs.write_sysctl(key, value)

    # -- probes and clock --------------------------------------------------------------------
    def ping(self, ns: str, dst: str, *, count: int = 1, timeout: float = 1.0,
             interval: float = 0.2, size: int = 56) -> PingResult:
        space = self._space(ns)
        return probe.ping(space.real, ns, dst, count=count, timeout=timeout, interval=interval,
                          size=size)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> float:
        return time.monotonic()
