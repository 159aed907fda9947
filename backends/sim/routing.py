"""IPv4 addresses of one namespace and the routes they make (net/ipv4/fib_frontend.c, devinet.c).

Layering: operations on the routing table, just above the data (`devices.py` holds the table
itself, `Fib`, and its lookup); the backend and links.py call them, the packet path reads the
table through `ipv4.route_output`.

An address gives a local route at once (whatever the link state) and, while the link is
admin-up, a connected route (proto kernel, scope link, prefsrc) for a primary address; taking
the link down flushes every main-table route through it (fib_sync_down_dev). Lookup is longest
prefix first, then lowest metric.
"""

from __future__ import annotations

import errno

from ctrnet.backends.sim.devices import Device, Fib, is_primary
from ctrnet.backends.sim.packet import prefix_mask
from ctrnet.errors import from_errno


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


#: The net.ipv4.conf keys conf.default may hold apart from their default in the simulator (the
#: others are refused by sysctl.py, forwarding follows ip_forward), with that default.
INHERITED = {"send_redirects": "1"}


def devconf_setall(dev: Device) -> None:
    """ipv4_devconf_setall (rtm_to_ifaddr, loopback's NETDEV_UP): once a device has been given
    an IPv4 address, its conf values are its own and a later write to conf.default no longer
    reaches it (checked on 6.18), even after the address is gone: the values it reads now
    are stored as its own. Called lazily — when conf.default is written (for the devices with
    an address) and when an address is deleted — so a world's saved state does not change
    until it matters."""
    sysctl = dev.ns.sysctl
    for leaf, default in INHERITED.items():
        key = f"net.ipv4.conf.{dev.name}.{leaf}"
        if key not in sysctl:
            sysctl[key] = sysctl.get(f"net.ipv4.conf.default.{leaf}", default)


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
    devconf_setall(dev)  # it had an address: its conf values stay its own
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
