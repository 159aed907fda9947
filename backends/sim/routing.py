"""IPv4 addresses and routing of one namespace: the main table and the local addresses.

Mirrors net/ipv4/fib_frontend.c: an address gives a local route at once (whatever the link
state) and, while the link is admin-up, a connected route (proto kernel, scope link, prefsrc)
for a primary address; taking the link down flushes every main-table route through it
(fib_sync_down_dev). Lookup is longest prefix first, then lowest metric.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ctrnet.backends.sim.packet import prefix_mask
from ctrnet.errors import from_errno

if TYPE_CHECKING:
    from ctrnet.backends.sim.devices import Device


class RouteRec:
    __slots__ = ("net", "plen", "dev", "gateway", "prefsrc", "scope", "proto", "metric")

    def __init__(self, net: int, plen: int, dev: Device, gateway: int | None,
                 prefsrc: int | None, scope: str, proto: str, metric: int) -> None:
        self.net = net
        self.plen = plen
        self.dev = dev
        self.gateway = gateway
        self.prefsrc = prefsrc
        self.scope = scope
        self.proto = proto
        self.metric = metric


class Fib:
    """Main table plus the local addresses (the local table's `local` entries)."""

    __slots__ = ("tables", "plens", "local", "local_src", "loopback_nets", "broadcasts",
                 "cache")

    def __init__(self) -> None:
        # prefixlen -> network -> routes sorted by metric
        self.tables: dict[int, dict[int, list[RouteRec]]] = {}
        self.plens: list[int] = []  # present prefix lengths, longest first
        self.local: dict[int, int] = {}  # own address -> how many devices hold it
        # own address -> prefsrc of its local route: the primary address of its subnet
        # (fib_add_ifaddr passes `prim` for a secondary).
        self.local_src: dict[int, int] = {}
        self.loopback_nets: list[tuple[int, int, int]] = []  # (net, mask, address) of lo
        # The local table's `broadcast` entries: subnet broadcast -> (device, prefsrc).
        self.broadcasts: dict[int, tuple[Device, int]] = {}
        # ipv4.route_output's answers by destination (the kernel's dst cache); any change to
        # routes or addresses empties it.
        self.cache: dict[int, object] = {}

    # -- table ---------------------------------------------------------------------------
    def insert(self, rec: RouteRec) -> bool:
        """Add a route; False (nothing changed) if one with that prefix and metric exists."""
        self.cache.clear()
        bucket = self.tables.get(rec.plen)
        if bucket is None:
            bucket = self.tables[rec.plen] = {}
            self.plens = sorted(self.tables, reverse=True)
        routes = bucket.setdefault(rec.net, [])
        for other in routes:
            if other.metric == rec.metric:
                return False
        routes.append(rec)
        routes.sort(key=lambda r: r.metric)
        return True

    def remove(self, rec: RouteRec) -> None:
        self.cache.clear()
        bucket = self.tables[rec.plen]
        routes = bucket[rec.net]
        routes.remove(rec)
        if not routes:
            del bucket[rec.net]
            if not bucket:
                del self.tables[rec.plen]
                self.plens = sorted(self.tables, reverse=True)

    def routes(self) -> list[RouteRec]:
        # Dump order of the fib trie: by network, longer prefixes of one key first.
        out = [r for bucket in self.tables.values() for rs in bucket.values() for r in rs]
        out.sort(key=lambda r: (r.net, -r.plen, r.metric))
        return out

    def find(self, net: int, plen: int) -> list[RouteRec]:
        bucket = self.tables.get(plen)
        return list(bucket.get(net, ())) if bucket else []

    def flush_dev(self, dev: Device) -> None:
        self.cache.clear()
        for rec in [r for r in self.routes() if r.dev is dev]:
            self.remove(rec)
        for bcast in [b for b, (d, _) in self.broadcasts.items() if d is dev]:
            del self.broadcasts[bcast]

    def add_prefix_routes(self, dev: Device, ip: int, plen: int) -> None:
        """fib_add_ifaddr on an up device: the connected route of a primary address and,
        for prefixes shorter than /31, its subnet broadcast."""
        self.cache.clear()
        rec = connected_route(dev, ip, plen)
        if rec is None:
            return
        self.insert(rec)
        if plen < 31:
            self.broadcasts[rec.net | (~prefix_mask(plen) & 0xFFFFFFFF)] = (dev, ip)

    def lookup(self, dst: int, link_scope_only: bool = False) -> RouteRec | None:
        """Longest-prefix match. `link_scope_only`: how a gateway is checked on route add
        (fib_check_nh_v4_gw looks up with scope link, so gateway routes do not count)."""
        for plen in self.plens:
            routes = self.tables[plen].get(dst & prefix_mask(plen))
            if routes:
                for rec in routes:
                    if not link_scope_only or rec.scope == "link":
                        return rec
        return None

    # -- local addresses ---------------------------------------------------------------------
    def is_local(self, ip: int) -> bool:
        if ip in self.local:
            return True
        for net, mask, _ in self.loopback_nets:
            if ip & mask == net:
                return True
        return False

    def loopback_src(self, ip: int) -> int | None:
        for net, mask, addr in self.loopback_nets:
            if ip & mask == net:
                return addr
        return None


def connected_route(dev: Device, ip: int, plen: int) -> RouteRec | None:
    """The prefix route fib_add_ifaddr installs for a primary address, if any."""
    if dev.kind.value == "loopback":
        return None  # lo's prefix goes to the local table (local 127.0.0.0/8)
    net = ip & prefix_mask(plen)
    if net == 0 or (plen == 32):
        return None
    return RouteRec(net, plen, dev, None, ip, "link", "kernel", 0)


def is_primary(dev: Device, ip: int, plen: int) -> bool:
    """An address is secondary when an earlier one on the device has the same subnet."""
    mask = prefix_mask(plen)
    for other, other_plen in dev.addrs:
        if (other, other_plen) == (ip, plen):
            return True
        if other_plen == plen and other & mask == ip & mask:
            return False
    return True


def add_connected_routes(fib: Fib, dev: Device) -> None:
    """NETDEV_UP: connected routes for the device's primary addresses."""
    for ip, plen in dev.addrs:
        if is_primary(dev, ip, plen):
            fib.add_prefix_routes(dev, ip, plen)


def _primary_of(dev: Device, ip: int, plen: int) -> int:
    mask = prefix_mask(plen)
    for other, other_plen in dev.addrs:
        if other_plen == plen and other & mask == ip & mask:
            return other
    return ip


def addr_add(fib: Fib, dev: Device, ip: int, plen: int) -> None:
    fib.cache.clear()
    if (ip, plen) in dev.addrs:
        raise from_errno(errno.EEXIST, "address already assigned")
    primary = _primary_of(dev, ip, plen)
    if primary == ip:
        # __inet_insert_ifa: a primary goes after the last primary, secondaries at the end.
        at = 0
        for n, (other, other_plen) in enumerate(dev.addrs):
            if is_primary(dev, other, other_plen):
                at = n + 1
        dev.addrs.insert(at, (ip, plen))
    else:
        dev.addrs.append((ip, plen))
    fib.local[ip] = fib.local.get(ip, 0) + 1
    fib.local_src.setdefault(ip, primary)
    if dev.kind.value == "loopback":
        mask = prefix_mask(plen)
        fib.loopback_nets.append((ip & mask, mask, ip))
    if dev.up and is_primary(dev, ip, plen):
        fib.add_prefix_routes(dev, ip, plen)


def addr_delete(fib: Fib, dev: Device, ip: int, plen: int) -> None:
    fib.cache.clear()
    if (ip, plen) not in dev.addrs:
        raise from_errno(errno.EADDRNOTAVAIL, "address not found")
    doomed = [(ip, plen)]
    if is_primary(dev, ip, plen):
        # promote_secondaries is 0: deleting a primary deletes its secondaries too.
        mask = prefix_mask(plen)
        doomed += [(o, p) for o, p in dev.addrs
                   if (o, p) != (ip, plen) and p == plen and o & mask == ip & mask]
        for rec in fib.find(ip & mask, plen):
            if rec.dev is dev and rec.proto == "kernel" and rec.prefsrc == ip:
                fib.remove(rec)
        bcast = (ip & mask) | (~mask & 0xFFFFFFFF)
        if fib.broadcasts.get(bcast, (None, None)) == (dev, ip):
            del fib.broadcasts[bcast]
    for addr in doomed:
        _forget(fib, dev, *addr)


def _forget(fib: Fib, dev: Device, ip: int, plen: int) -> None:
    fib.cache.clear()
    dev.addrs.remove((ip, plen))
    count = fib.local.get(ip, 0) - 1
    if count > 0:
        fib.local[ip] = count
    else:
        fib.local.pop(ip, None)
        fib.local_src.pop(ip, None)
    if dev.kind.value == "loopback":
        mask = prefix_mask(plen)
        fib.loopback_nets = [n for n in fib.loopback_nets if n != (ip & mask, mask, ip)]


def addr_flush(fib: Fib, dev: Device) -> None:
    """The device leaves the namespace or disappears: its addresses and routes go."""
    for ip, plen in list(dev.addrs):
        _forget(fib, dev, ip, plen)
    fib.flush_dev(dev)


def select_src(devices: list[Device], dev: Device | None, target: int) -> int | None:
    """inet_select_addr: a primary address of `dev` (one on `target`'s subnet preferred),
    else any non-loopback address of the namespace."""
    if dev is not None:
        first = None
        for ip, plen in dev.addrs:
            if not is_primary(dev, ip, plen):
                continue
            mask = prefix_mask(plen)
            if ip & mask == target & mask:
                return ip
            if first is None:
                first = ip
        if first is not None and dev.kind.value != "loopback":
            return first
    for other in devices:
        if other.kind.value != "loopback" and other.addrs:
            return other.addrs[0][0]
    return None
