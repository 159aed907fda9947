"""The data of the simulated network: a namespace and what hangs off it.

Layering: the lowest layer above the frames (`packet.py`) and the clock. What the kernel's
headers declare and all its code shares lives here: the namespace (struct net), its devices
(struct net_device: loopback, veth, bridge), the bridge's ports and forwarding database
(struct net_bridge, net_bridge_port, net_bridge_fdb_entry), the routing table and local
addresses (struct fib_table, fib_info), and the neighbour table (struct neighbour). They point
at each other (a device at its namespace, a namespace at its devices, a bridge at its ports),
so they share one module, which imports nothing of the simulator above it. A namespace's
netfilter state is `nfstate.py`, below; its sockets (`sockets.py`, far above) it holds opaque.

Nothing here sends or receives a frame: that is `world.py` (net/core/dev.c) and the protocol
handlers above it, which register at its hook points (`hooks.py` lists them). What is kept
here is evaluated lazily against the virtual clock instead of with timers: operational state
and carrier (as linkwatch would settle them), STP port states and FDB ageing, the timer
transitions of neighbour entries.
"""

from __future__ import annotations

import errno
from typing import Protocol

from ctrnet.backends.sim.clock import Clock
from ctrnet.backends.sim.icmplimit import IcmpLimits
from ctrnet.backends.sim.nfstate import NfState
from ctrnet.backends.sim.packet import Frame, IPv4, prefix_mask
from ctrnet.errors import from_errno
from ctrnet.types import LinkKind, NeighState, OperState, PortState

IFNAMSIZ = 16
ETH_MIN_MTU = 68
ETH_MAX_MTU = 65535


def check_ifname(name: str) -> None:
    """Reject names as the kernel's dev_valid_name does, with netlink's errnos.

    IFLA_IFNAME longer than IFNAMSIZ-1 fails the attribute policy (ERANGE); an empty name,
    "." / "..", or one containing '/', ':' or whitespace fails dev_valid_name (EINVAL).
    """
    if len(name.encode()) > IFNAMSIZ - 1:
        raise from_errno(errno.ERANGE, f"interface name {name!r} longer than 15 bytes")
    if not name or name in (".", "..") or any(c == "/" or c == ":" or c.isspace() for c in name):
        raise from_errno(errno.EINVAL, f"invalid interface name {name!r}")


class RootQdisc(Protocol):
    """A device's root qdisc as the transmit path sees it (struct Qdisc); `tc.Tbf` is the one
    kind the simulator has. Without one, a device sends at once (noqueue)."""

    def departure(self, now: float, length: int) -> float | None:
        """When a frame of `length` bytes offered now leaves; None if it is dropped."""

    def room_at(self, now: float, length: int) -> float:
        """When the queue can take `length` more bytes."""


class Device:
    __slots__ = ("ns", "name", "index", "mac", "mtu", "up", "port", "addrs", "qdisc",
                 "__weakref__")

    kind: LinkKind = LinkKind.OTHER

    def __init__(self, ns: Namespace, name: str, index: int, mac: int, mtu: int = 1500) -> None:
        self.ns = ns
        self.name = name
        self.index = index
        self.mac = mac
        self.mtu = mtu
        self.up = False
        self.port: Port | None = None  # set while enslaved to a bridge
        self.addrs: list[tuple[int, int]] = []  # (ip, prefixlen), in order added
        self.qdisc: RootQdisc | None = None  # set by the user (tc.py); None: the default

    def carrier(self) -> bool:
        return True

    def oper_up(self) -> bool:
        """netif_oper_up(): what a bridge asks before enabling this device as a port."""
        return self.up and self.carrier()

    def operstate(self) -> OperState:
        if not self.up:
            return OperState.DOWN
        return OperState.UP if self.carrier() else OperState.DOWN

    def mtu_range(self) -> tuple[int, int]:
        return ETH_MIN_MTU, ETH_MAX_MTU


class Loopback(Device):
    __slots__ = ()
    kind = LinkKind.LOOPBACK

    def operstate(self) -> OperState:
        # The loopback driver never reports a carrier change, so linkwatch leaves it UNKNOWN.
        return OperState.UNKNOWN if self.up else OperState.DOWN

    def mtu_range(self) -> tuple[int, int]:
        return 0, 2**31 - 1


class Veth(Device):
    __slots__ = ("peer", "settled")
    kind = LinkKind.VETH

    def __init__(self, ns: Namespace, name: str, index: int, mac: int, mtu: int = 1500) -> None:
        super().__init__(ns, name, index, mac, mtu)
        self.peer: Veth = self  # replaced right after the pair is made
        # The operstate linkwatch settled on when this end lost its carrier, where the lazy
        # computation would now answer differently (the peer has since left the namespace).
        self.settled: OperState | None = None

    def carrier(self) -> bool:
        # veth_open/veth_close: carrier on both ends only while both are up.
        return self.up and self.peer.up

    def operstate(self) -> OperState:
        if not self.up:
            return OperState.DOWN
        if self.peer.up:
            return OperState.UP
        if self.settled is not None:
            return self.settled
        # default_operstate (net/core/link_watch.c, since 6.6): without carrier, look the
        # iflink (the peer's ifindex) up in *this* namespace; LOWERLAYERDOWN only if that
        # finds a device without carrier. A peer in another namespace is usually not found
        # (or is an unrelated device with the same index): DOWN.
        iflink = self.peer.index
        if iflink == self.index:
            return OperState.DOWN
        found = self.ns.by_index.get(iflink)
        if found is None or found.carrier():
            return OperState.DOWN
        return OperState.LOWERLAYERDOWN


class Bridge(Device):
    __slots__ = ("br",)
    kind = LinkKind.BRIDGE

    def __init__(self, ns: Namespace, name: str, index: int, mac: int, br: BridgeState) -> None:
        super().__init__(ns, name, index, mac)
        self.br = br

    def carrier(self) -> bool:
        return self.br.carrier()

    def operstate(self) -> OperState:
        if not self.up:
            return OperState.DOWN
        if not self.br.had_port:
            # A bridge that never had a port keeps the carrier it was born with and never
            # saw a carrier event: linkwatch leaves it UNKNOWN (seen on 6.18).
            return OperState.UNKNOWN
        return OperState.UP if self.carrier() else OperState.DOWN


# -- the namespace (struct net) ---------------------------------------------------------
class Namespace:
    __slots__ = ("name", "devices", "by_index", "next_index", "sysctl", "fib", "neigh", "lo",
                 "echo_replies", "icmp_errors", "nf", "sockets", "etc", "icmp")

    def __init__(self, name: str, lo_mac: int = 0) -> None:
        self.name = name
        self.devices: dict[str, Device] = {}
        self.by_index: dict[int, Device] = {}
        self.next_index = 1
        self.sysctl: dict[str, str] = {}
        self.fib = Fib()
        self.neigh = NeighTable()
        self.echo_replies: dict[int, list[tuple[int, int]]] = {}
        self.icmp_errors: list[object] = []
        # Made on first use, so that an idle namespace costs two empty slots.
        self.nf: NfState | None = None  # iptables, ebtables, conntrack
        # Listeners and connections: a sockets.Sockets, which sits above the IPv4 path
        # (like the kernel's per-net socket tables, opaque here; sockets.py reads it).
        self.sockets: object | None = None
        self.etc: dict[str, str] | None = None  # /etc/netns/NAME/ files (resolv.conf…)
        self.icmp = IcmpLimits()  # its ICMP rate limiters (peers, the global bucket)
        self.lo = Loopback(self, "lo", 0, lo_mac, mtu=65536)
        self.attach(self.lo)

    def attach(self, dev: Device, index: int | None = None) -> None:
        """Register `dev` here, keeping `index` when it is free (dev_change_net_namespace)."""
        if index is None or index in self.by_index:
            while self.next_index in self.by_index:
                self.next_index += 1
            index = self.next_index
            self.next_index += 1
        dev.ns = self
        dev.index = index
        self.devices[dev.name] = dev
        self.by_index[index] = dev

    def detach(self, dev: Device) -> None:
        del self.devices[dev.name]
        del self.by_index[dev.index]

    def device(self, name: str) -> Device:
        dev = self.devices.get(name)
        if dev is None:
            raise from_errno(errno.ENODEV, f"device {name!r} not found in namespace {self.name!r}")
        return dev

    def forwarding(self, indev: Device) -> bool:
        """IN_DEV_FORWARD(indev): the input device's copy, which ip_forward overwrites."""
        sysctl = self.sysctl
        if not sysctl:
            return False
        value = sysctl.get(f"net.ipv4.conf.{indev.name}.forwarding")
        if value is None:
            value = sysctl.get("net.ipv4.ip_forward", "0")
        return value != "0"

    def select_src(self, dev: Device | None, target: int) -> int | None:
        return select_src(list(self.devices.values()) if dev is None or not dev.addrs
                          else [], dev, target)

    def is_local_mac(self, dev: Device, frame: Frame) -> bool:
        # A bridge passes up frames for its ports' own addresses as PACKET_HOST.
        if isinstance(dev, Bridge):
            rec = dev.br.fdb.get(frame.dst)
            return rec is not None and rec.local
        return False

    def deliver_echo_reply(self, ident: int, seq: int, ttl: int) -> None:
        replies = self.echo_replies.get(ident)
        if replies is not None:
            replies.append((seq, ttl))

    def deliver_icmp_error(self, packet: object) -> None:
        if len(self.icmp_errors) < 100:
            self.icmp_errors.append(packet)


# -- routes and local addresses (struct fib_table; what changes them: routing.py) -------
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


# -- the neighbour table (struct neighbour; ARP and neighbour output: neighbour.py) -------
#: neigh parms defaults: retrans_time 1 s, mcast/ucast_solicit 3, delay_first_probe_time 5 s,
#: base_reachable_time 30 s (the kernel randomises reachable_time in [15, 45) s).
RETRANS = 1.0
SOLICIT = 3
DELAY_FIRST_PROBE = 5.0
REACHABLE_TIME = 30.0
LOCKTIME = 1.0

# The states Entry.settle tests, bound once: on Python 3.11 each `NeighState.X` is a
# metaclass attribute lookup (~150 ns), and every packet sent settles its entry.
_REACHABLE, _STALE, _DELAY, _PROBE, _INCOMPLETE, _FAILED = (
    NeighState.REACHABLE, NeighState.STALE, NeighState.DELAY, NeighState.PROBE,
    NeighState.INCOMPLETE, NeighState.FAILED)


class Entry:
    __slots__ = ("dev", "ip", "mac", "state", "since", "confirmed", "updated", "last_probe",
                 "queue")

    def __init__(self, dev: Device, ip: int, now: float) -> None:
        self.dev = dev
        self.ip = ip
        self.mac: int | None = None
        self.state = NeighState.INCOMPLETE
        self.since = now  # start of the current state
        self.confirmed = now
        self.updated = now
        self.last_probe = now
        self.queue: list[IPv4] = []

    def settle(self, now: float) -> NeighState:
        """Apply the timer transitions that are due by `now`."""
        while True:
            state = self.state
            if state == _REACHABLE and now >= self.confirmed + REACHABLE_TIME:
                self._enter(_STALE, self.confirmed + REACHABLE_TIME)
            elif state == _DELAY and now >= self.since + DELAY_FIRST_PROBE:
                self._enter(_PROBE, self.since + DELAY_FIRST_PROBE)
            elif ((state == _INCOMPLETE or state == _PROBE)
                  and now >= self.since + SOLICIT * RETRANS):
                self._enter(_FAILED, self.since + SOLICIT * RETRANS)
                self.queue.clear()
            else:
                return state

    def _enter(self, state: NeighState, at: float) -> None:
        self.state = state
        self.since = at


class NeighTable:
    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[tuple[Device, int], Entry] = {}

    def flush(self, dev: Device | None = None, everything: bool = False) -> None:
        for key in [k for k, e in self.entries.items()
                    if (dev is None or e.dev is dev)
                    and (everything or e.state not in (NeighState.PERMANENT, NeighState.NOARP))]:
            del self.entries[key]

    def listing(self, now: float) -> list[Entry]:
        for entry in self.entries.values():
            entry.settle(now)
        return list(self.entries.values())


# -- the bridge's ports and FDB (struct net_bridge; forwarding frames: bridge.py) --------
#: BR_MAX_PORTS is 1024 and port number 0 is reserved: the 1024th port gets EXFULL.
MAX_PORTS = 1023
#: BR_MIN/MAX_FORWARD_DELAY, applied while STP is on.
MIN_FORWARD_DELAY = 2.0
MAX_FORWARD_DELAY = 30.0
#: Default max_age: a topology change lasts max_age + forward_delay (br_topology_change_detection).
MAX_AGE = 20.0


class Port:
    __slots__ = ("dev", "br", "no", "hairpin", "learning", "enabled", "learning_at",
                 "forwarding_at")

    def __init__(self, dev: Device, br: BridgeState, no: int) -> None:
        self.dev = dev
        self.br = br
        self.no = no
        self.hairpin = False
        self.learning = True
        self.enabled = False
        self.learning_at = 0.0
        self.forwarding_at = 0.0

    def state(self, now: float) -> PortState:
        if not self.enabled:
            return PortState.DISABLED
        if now >= self.forwarding_at:
            return PortState.FORWARDING
        if now >= self.learning_at:
            return PortState.LEARNING
        return PortState.LISTENING


class FdbRecord:
    __slots__ = ("port", "local", "static", "updated")

    def __init__(self, port: Port | None, local: bool, static: bool, updated: float) -> None:
        self.port = port  # None: the bridge device's own address
        self.local = local
        self.static = static
        self.updated = updated


class BridgeState:
    __slots__ = ("dev", "clock", "ports", "fdb", "stp_state", "forward_delay", "ageing_time",
                 "bridge_ageing_time", "had_port", "mac_set", "mtu_set", "tc_pending",
                 "tc_until", "gc_next", "used_nos", "free_hint")

    def __init__(self, clock: Clock) -> None:
        self.dev: Bridge
        self.clock = clock
        self.ports: dict[Device, Port] = {}
        self.fdb: dict[int, FdbRecord] = {}
        self.stp_state = 0
        self.forward_delay = 15.0
        # br->bridge_ageing_time is what the user set; br->ageing_time is what the FDB uses
        # (and what the kernel reports): 2 * forward_delay during an STP topology change.
        self.bridge_ageing_time = 300.0
        self.ageing_time = 300.0
        self.had_port = False
        self.mac_set = False  # MAC set by the user: no longer follows the lowest port MAC
        self.mtu_set = False
        self.tc_pending: list[tuple[float, Port]] = []  # ports due to reach FORWARDING
        self.tc_until: float | None = None  # end of the topology change in progress
        self.gc_next: float | None = None  # next run of br_fdb_cleanup (gc_work)
        self.used_nos: set[int] = set()
        self.free_hint = 1  # no free port number is below this

    # -- ports ---------------------------------------------------------------------------
    def carrier(self) -> bool:
        # br_port_state_selection: carrier on iff some port forwards. A bridge that never
        # had a port still has the carrier it was created with.
        if not self.had_port:
            return True
        now = self.clock.now()
        return any(p.enabled and now >= p.forwarding_at for p in self.ports.values())

    def free_port_no(self) -> int | None:
        """find_portno: the lowest free port number (1..1023)."""
        no = self.free_hint
        while no in self.used_nos:
            no += 1
        self.free_hint = no
        return no if no <= MAX_PORTS else None

    def take_port_no(self, no: int) -> None:
        self.used_nos.add(no)

    def give_port_no(self, no: int) -> None:
        self.used_nos.discard(no)
        self.free_hint = min(self.free_hint, no)

    def refresh_port(self, port: Port) -> None:
        """Re-evaluate whether `port` is enabled after an admin/carrier change."""
        enabled = self.dev.up and port.dev.oper_up()
        if enabled == port.enabled:
            return
        now = self.clock.now()
        had_carrier = not enabled and self.carrier()
        port.enabled = enabled
        if enabled:
            if self.stp_state:
                # br_stp_enable_port -> LISTENING; forward_delay later LEARNING, then FORWARDING.
                port.learning_at = now + self.forward_delay
                port.forwarding_at = now + 2 * self.forward_delay
                # Reaching FORWARDING will be a topology change (br_forward_delay_timer_expired).
                self.tc_pending.append((port.forwarding_at, port))
            else:
                port.learning_at = port.forwarding_at = now
        else:
            # br_stp_disable_port flushes what the port learned (static/local stay).
            self.flush_port(port, everything=False)
            if had_carrier:
                self.carrier_check()

    def carrier_check(self) -> None:
        """The bridge may just have lost its carrier: arp_evict_nocarrier (default 1) then
        drops the bridge device's neighbours (neigh_carrier_down)."""
        if not self.carrier():
            self.dev.ns.neigh.flush(self.dev)

    def refresh_all(self) -> None:
        for port in self.ports.values():
            self.refresh_port(port)

    # -- topology change and FDB garbage collection ----------------------------------------
    def settle(self, now: float) -> None:
        """Apply the STP timer events due by `now`, in order (lazily, instead of timers)."""
        while True:
            due = [(at, p) for at, p in self.tc_pending if at <= now]
            ends = self.tc_until if self.tc_until is not None and self.tc_until <= now else None
            first = min((at for at, _ in due), default=None)
            if first is not None and (ends is None or first <= ends):
                self.tc_pending = [(at, p) for at, p in self.tc_pending if at != first]
                if any(at == first and p.enabled and p.forwarding_at == at for at, p in due):
                    # br_topology_change_detection on the root bridge: topology_change for
                    # forward_delay + max_age; __br_set_topology_change shortens ageing.
                    if self.tc_until is None:
                        self.ageing_time = 2 * self.forward_delay
                    self.tc_until = first + self.forward_delay + MAX_AGE
                continue
            if ends is not None:
                # br_topology_change_timer_expired: ageing comes back only if STP still runs.
                if self.stp_state:
                    self.ageing_time = self.bridge_ageing_time
                self.tc_until = None
                continue
            return

    def stp_stopped(self) -> None:
        """br_stp_stop: no more topology changes; forward delay timers of ports run on."""
        self.settle(self.clock.now())
        self.tc_pending = []

    def set_ageing_time(self, seconds: float) -> None:
        """br_set_ageing_time: both values, and the garbage collector runs at once."""
        self.settle(self.clock.now())
        self.bridge_ageing_time = self.ageing_time = seconds
        self.gc_next = self.clock.now()

    def gc_until(self, now: float) -> None:
        """Run br_fdb_cleanup at every time it was due by `now`. Learned entries leave the
        FDB only then: lookups and dumps in between still see an expired entry."""
        while self.gc_next is not None and self.gc_next <= now:
            at = self.gc_next
            self.settle(at)
            delay = self.ageing_time
            work_delay = delay
            learned = False
            for mac in list(self.fdb):
                rec = self.fdb[mac]
                if rec.local or rec.static:
                    continue
                learned = True
                expires = rec.updated + delay
                if expires > at:
                    work_delay = min(work_delay, expires - at)
                else:
                    del self.fdb[mac]
            step = max(work_delay, 0.01)  # "Cleanup minimum 10 milliseconds apart"
            if not learned and not self.tc_pending and self.tc_until is None and step > 0:
                # Nothing to age and nothing changing: skip the idle runs in one go.
                skipped = int((now - at) // step)
                at += skipped * step
            self.gc_next = at + step
        self.settle(now)

    def lookup(self, mac: int, now: float) -> FdbRecord | None:
        self.gc_until(now)
        return self.fdb.get(mac)

    def learn(self, port: Port, mac: int, now: float) -> None:
        """br_fdb_update: remember that `mac` is behind `port`; never override a local entry."""
        rec = self.fdb.get(mac)
        if rec is None:
            self.fdb[mac] = FdbRecord(port, False, False, now)
        elif not rec.local:
            rec.updated = now
            rec.port = port  # entries (static ones too) move with the station, unless sticky

    def add_local(self, port: Port | None, mac: int) -> None:
        self.fdb[mac] = FdbRecord(port, True, False, self.clock.now())

    def remove_local(self, port: Port | None, mac: int) -> None:
        rec = self.fdb.get(mac)
        if rec is not None and rec.local and rec.port is port:
            del self.fdb[mac]
            # Another port (or the bridge) with the same address keeps it local.
            for other in self.ports.values():
                if other.dev.mac == mac:
                    self.add_local(other, mac)
                    return
            if self.dev.mac == mac:
                self.add_local(None, mac)

    def flush_port(self, port: Port, everything: bool) -> None:
        for mac in [m for m, r in self.fdb.items()
                    if r.port is port and (everything or not (r.local or r.static))]:
            del self.fdb[mac]

    def purge(self) -> None:
        self.gc_until(self.clock.now())

    def recalc_mac(self) -> None:
        """br_stp_recalculate_bridge_id: a bridge whose MAC the user did not set takes the
        lowest port MAC."""
        if self.mac_set or not self.ports:
            return
        lowest = min(p.dev.mac for p in self.ports.values())
        if lowest != self.dev.mac:
            old, self.dev.mac = self.dev.mac, lowest
            self.remove_local(None, old)
            if lowest not in self.fdb:
                self.add_local(None, lowest)
