"""ARP and neighbour output of one namespace (net/ipv4/arp.c, net/core/neighbour.c).

Layering: a protocol handler, above the world. The neighbour table itself (`Entry`,
`NeighTable`, their lazy timer transitions) is data, in `devices.py`; this module registers
ARP's receive function for its ethertype (dev_add_pack) and gives the IPv4 path
`neigh_output`. It imports nothing above the world.

Output to a next hop resolves it first: a broadcast ARP request, the packet queued on the
INCOMPLETE entry until the reply makes it REACHABLE. arp_process answers requests for any
local address (arp_ignore 0) and leaves a STALE entry for the asker. Timer-driven
transitions (REACHABLE->STALE, DELAY->PROBE, INCOMPLETE/PROBE->FAILED) are computed lazily.
"""

from __future__ import annotations

import errno

from ctrnet.backends.sim.devices import (
    DELAY_FIRST_PROBE,
    LOCKTIME,
    RETRANS,
    SOLICIT,
    Device,
    Entry,
    Namespace,
)
from ctrnet.backends.sim.packet import (
    ARPOP_REPLY,
    ARPOP_REQUEST,
    BROADCAST_MAC,
    ETH_P_ARP,
    ETH_P_IP,
    Arp,
    Frame,
    IPv4,
    is_multicast_mac,
)
from ctrnet.backends.sim.world import World, dev_add_pack
from ctrnet.errors import from_errno
from ctrnet.types import NeighState

#: unres_qlen_bytes 212992 holds ~100 small packets.
QUEUE_LEN = 100

_VALID = (NeighState.REACHABLE, NeighState.STALE, NeighState.DELAY, NeighState.PROBE,
          NeighState.PERMANENT, NeighState.NOARP)
# The states the output path tests, bound once: on Python 3.11 each `NeighState.X` is a
# metaclass attribute lookup (~150 ns), and every packet sent settles its entry.
_REACHABLE, _STALE, _DELAY, _PROBE, _INCOMPLETE, _FAILED = (
    NeighState.REACHABLE, NeighState.STALE, NeighState.DELAY, NeighState.PROBE,
    NeighState.INCOMPLETE, NeighState.FAILED)


def neigh_set(world: World, ns: Namespace, dev: Device, ip: int, mac: int | None,
              state: NeighState, *, create: bool, exclusive: bool) -> None:
    """neigh_add (RTM_NEWNEIGH) with NEIGH_UPDATE_F_ADMIN: the entry takes `state` (and
    `mac`) whatever it was; DELAY starts probing at once, INCOMPLETE/PROBE resolve."""
    now = world.clock.now()
    key = (dev, ip)
    entry = ns.neigh.entries.get(key)
    if entry is not None and exclusive:
        raise from_errno(errno.EEXIST, "neighbour exists")
    if mac is None and state in _VALID and (
            entry is None or entry.mac is None or entry.settle(now) not in _VALID):
        # __neigh_update: a valid state needs an address, given or already known.
        raise from_errno(errno.EINVAL, "No link layer address given")
    if entry is None:
        if not create:
            raise from_errno(errno.ENOENT, "no such neighbour")
        entry = ns.neigh.entries[key] = Entry(dev, ip, now)
    if mac is not None:
        entry.mac = mac
    # A DELAY set by hand has its timer armed for now: it is in PROBE at once.
    entry.state = _PROBE if state == _DELAY else state
    entry.since = entry.updated = entry.confirmed = now
    if entry.state in (_PROBE, _INCOMPLETE):
        _start_resolution(world, ns, entry, None, entry.mac or BROADCAST_MAC)
    elif entry.queue and entry.mac is not None and entry.state in _VALID:
        queued, entry.queue = entry.queue, []
        for packet in queued:
            world.xmit(dev, Frame(entry.mac, dev.mac, ETH_P_IP, packet))


def neigh_delete(ns: Namespace, dev: Device, ip: int) -> None:
    """neigh_delete: ENOENT for an entry that is not there (a NONE one counts as absent)."""
    if ns.neigh.entries.pop((dev, ip), None) is None:
        raise from_errno(errno.ENOENT, "no such neighbour")


def _arp_request(world: World, dev: Device, sip: int, tip: int, dst_mac: int) -> None:
    arp = Arp(ARPOP_REQUEST, dev.mac, sip, 0, tip)
    world.xmit(dev, Frame(dst_mac, dev.mac, ETH_P_ARP, arp))


def _arp_sip(ns: Namespace, dev: Device, packet: IPv4 | None, target: int) -> int:
    # arp_solicit with arp_announce 0: the packet's source if it is ours, else an address of
    # the device suitable for the target.
    if packet is not None and ns.fib.is_local(packet.src):
        return packet.src
    return ns.select_src(dev, target) or 0


class _Retransmit:
    """A solicitation retransmission (neigh_timer_handler); a picklable timer that acts only
    if the entry is still in the state it was armed in."""

    __slots__ = ("world", "ns", "entry", "sip", "dst_mac", "state", "since")

    def __init__(self, world: World, ns: Namespace, entry: Entry, sip: int, dst_mac: int) -> None:
        self.world, self.ns, self.entry, self.sip, self.dst_mac = world, ns, entry, sip, dst_mac
        self.state, self.since = entry.state, entry.since

    def __call__(self) -> None:
        entry, ns = self.entry, self.ns
        if (ns.neigh.entries.get((entry.dev, entry.ip)) is entry and entry.state == self.state
                and entry.since == self.since and entry.dev.ns is ns):
            entry.last_probe = self.world.clock.now()
            _arp_request(self.world, entry.dev, self.sip, entry.ip,
                         self.dst_mac if entry.mac is None else entry.mac)


class _DelayProbe:
    """DELAY expired without confirmation: probe by unicast (a picklable timer)."""

    __slots__ = ("world", "ns", "entry", "since")

    def __init__(self, world: World, ns: Namespace, entry: Entry) -> None:
        self.world, self.ns, self.entry, self.since = world, ns, entry, entry.since

    def __call__(self) -> None:
        entry = self.entry
        if (self.ns.neigh.entries.get((entry.dev, entry.ip)) is entry
                and entry.settle(self.world.clock.now()) == NeighState.PROBE
                and entry.since == self.since + DELAY_FIRST_PROBE and entry.mac is not None):
            _start_resolution(self.world, self.ns, entry, None, entry.mac)


def _start_resolution(world: World, ns: Namespace, entry: Entry, packet: IPv4 | None,
                      dst_mac: int) -> None:
    """Send the first solicitation now and arm the retransmissions (neigh_timer_handler):
    SOLICIT probes RETRANS apart; FAILED follows lazily (Entry.settle)."""
    now = world.clock.now()
    entry.last_probe = now
    sip = _arp_sip(ns, entry.dev, packet, entry.ip)
    retransmit = _Retransmit(world, ns, entry, sip, dst_mac)
    _arp_request(world, entry.dev, sip, entry.ip, dst_mac)
    for n in range(1, SOLICIT):
        world.schedule(now + n * RETRANS, retransmit)


def _arm_delay(world: World, ns: Namespace, entry: Entry) -> None:
    """DELAY: without confirmation, probe by unicast after delay_first_probe_time."""
    world.schedule(entry.since + DELAY_FIRST_PROBE, _DelayProbe(world, ns, entry))


def neigh_output(world: World, ns: Namespace, dev: Device, nexthop: int, packet: IPv4) -> None:
    """neigh_resolve_output: send `packet` to `nexthop` on `dev`, resolving its MAC first."""
    now = world.clock.now()
    key = (dev, nexthop)
    entry = ns.neigh.entries.get(key)
    state = entry.settle(now) if entry is not None else None
    if entry is None or state == _FAILED:
        if entry is None:
            entry = ns.neigh.entries[key] = Entry(dev, nexthop, now)
        else:
            entry.state, entry.since = _INCOMPLETE, now
        entry.queue.append(packet)
        _start_resolution(world, ns, entry, packet, BROADCAST_MAC)
        return
    if state == _INCOMPLETE:
        if len(entry.queue) < QUEUE_LEN:
            entry.queue.append(packet)
        return
    assert entry.mac is not None
    if state == _STALE:
        entry.state, entry.since = _DELAY, now
        _arm_delay(world, ns, entry)
    world.xmit(dev, Frame(entry.mac, dev.mac, ETH_P_IP, packet))


def _update(world: World, entry: Entry, mac: int, state: NeighState, now: float) -> None:
    """__neigh_update for what ARP tells us about `entry`."""
    old = entry.settle(now)
    if old in (NeighState.PERMANENT, NeighState.NOARP):
        return
    if old in _VALID and entry.mac is not None:
        if mac != entry.mac and now < entry.updated + LOCKTIME:
            return  # several replies back to back: the first one wins
        if mac == entry.mac and state == NeighState.STALE:
            return  # same address, no news: keep the state it is in
    entry.mac = mac
    entry.state = state
    entry.since = entry.updated = now
    if state == NeighState.REACHABLE:
        entry.confirmed = now
    if entry.queue:
        queued, entry.queue = entry.queue, []
        for packet in queued:
            world.xmit(entry.dev, Frame(mac, entry.dev.mac, ETH_P_IP, packet))


def arp_receive(world: World, dev: Device, frame: Frame, to_us: bool) -> None:
    """arp_rcv / arp_process. `to_us`: the frame was addressed to this host (PACKET_HOST)."""
    ns = dev.ns
    arp = frame.payload
    assert isinstance(arp, Arp)
    if not to_us and not is_multicast_mac(frame.dst):
        return  # PACKET_OTHERHOST is dropped by arp_rcv
    sip, tip = arp.sip, arp.tip
    if (tip >> 28) == 0xE or (sip >> 24) == 127 or (tip >> 24) == 127 or (sip >> 28) == 0xE:
        return  # multicast / loopback addresses are martians here
    now = world.clock.now()
    key = (dev, sip)
    if arp.op == ARPOP_REQUEST and ns.fib.is_local(tip):
        if sip:
            # neigh_event_ns: the asker gets a STALE entry (created if needed).
            entry = ns.neigh.entries.get(key)
            if entry is None:
                entry = ns.neigh.entries[key] = Entry(dev, sip, now)
            _update(world, entry, arp.sha, NeighState.STALE, now)
        reply = Arp(ARPOP_REPLY, dev.mac, tip, arp.sha, sip)
        world.xmit(dev, Frame(arp.sha, dev.mac, ETH_P_ARP, reply))
        return
    entry = ns.neigh.entries.get(key)
    if entry is None:
        return  # arp_accept 0: no entry is created for unsolicited news
    # Broadcast replies and requests do not assert reachability.
    reachable = arp.op == ARPOP_REPLY and not is_multicast_mac(frame.dst)
    _update(world, entry, arp.sha, NeighState.REACHABLE if reachable else NeighState.STALE, now)


dev_add_pack(ETH_P_ARP, arp_receive)
