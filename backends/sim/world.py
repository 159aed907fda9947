"""The simulated world: namespaces, their devices, sysctls, and frame delivery.

A World owns the clock, a seeded MAC generator, a FIFO of frames in flight and the timers
(picklable callables) of what must act later. Sending a frame never recurses: `xmit` puts it
on the queue (or, through a device's tbf, on a timer at its departure time) and `run` delivers
until the world is quiet (bounded, so a bridge loop cannot hang the simulator).
"""

from __future__ import annotations

import errno
import heapq
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ctrnet.backends.sim.bridge import bridge_receive, bridge_xmit
from ctrnet.backends.sim.clock import Clock
from ctrnet.backends.sim.devices import Bridge, Device, Loopback, Veth
from ctrnet.backends.sim.ipv4 import netif_receive
from ctrnet.backends.sim.neighbour import NeighTable
from ctrnet.backends.sim.netfilter import Netfilter
from ctrnet.backends.sim.packet import Frame, frame_length
from ctrnet.backends.sim.routing import Fib, select_src
from ctrnet.errors import from_errno

if TYPE_CHECKING:
    from ctrnet.backends.sim.netfilter import NfState
    from ctrnet.backends.sim.sockets import Sockets

#: Per-namespace sysctl defaults; a namespace stores only what was changed.
SYSCTL_DEFAULTS: dict[str, str] = {
    "net.ipv4.ip_forward": "0",
    "net.ipv4.ip_default_ttl": "64",
    "net.ipv4.icmp_echo_ignore_all": "0",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    "net.ipv6.conf.all.disable_ipv6": "1",  # ctrnet disables IPv6 in its namespaces
    "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv6.conf.all.forwarding": "0",
    # br_netfilter is built in on the reference kernel; its default is 1.
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.bridge.bridge-nf-call-arptables": "1",
}
#: net.ipv4.conf.{all,default,IFACE}.KEY defaults ("forwarding" follows ip_forward).
CONF_DEFAULTS: dict[str, str] = {
    "forwarding": "0",
    "rp_filter": "0",
    "accept_local": "0",
    "route_localnet": "0",
    "arp_ignore": "0",
    "arp_announce": "0",
    "arp_accept": "0",
    "proxy_arp": "0",
    "send_redirects": "1",
    "promote_secondaries": "0",
}
#: Frames delivered per `run` before the world declares a storm and drops the rest.
STORM_LIMIT = 200_000


class Namespace:
    __slots__ = ("name", "devices", "by_index", "next_index", "sysctl", "fib", "neigh", "lo",
                 "echo_replies", "icmp_errors", "nf", "sockets", "etc")

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
        self.sockets: Sockets | None = None  # listeners and connections
        self.etc: dict[str, str] | None = None  # /etc/netns/NAME/ files (resolv.conf…)
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


class Departure:
    """A frame leaving a shaped device's queue at its departure time (a picklable timer)."""

    __slots__ = ("world", "dev", "frame")

    def __init__(self, world: World, dev: Device, frame: Frame) -> None:
        self.world = world
        self.dev = dev
        self.frame = frame

    def __call__(self) -> None:
        self.world.wire(self.dev, self.frame)


class World:
    __slots__ = ("clock", "hooks", "namespaces", "rng", "queue", "timers", "_seq", "_ip_id",
                 "_ident")

    def __init__(self, seed: int = 0) -> None:
        self.clock = Clock()
        self.hooks = Netfilter(self)
        self.namespaces: dict[str, Namespace] = {}
        self.rng = random.Random(seed)
        self.queue: deque[tuple[Device, Frame]] = deque()
        # The few things that must *act* at a given time (ARP retransmissions, neighbour
        # probes); everything else is evaluated lazily against the clock.
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._ip_id = 0
        self._ident = 0

    def new_mac(self) -> int:
        # eth_hw_addr_random: locally administered (bit 1), unicast (bit 0 clear).
        raw = self.rng.getrandbits(48)
        return (raw & ~(1 << 40)) | (1 << 41)

    def next_ip_id(self) -> int:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    def next_ident(self) -> int:
        self._ident = (self._ident + 1) & 0xFFFF
        return self._ident

    def schedule(self, at: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (at, self._seq, action))

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass, firing due timers in order, each at its own time."""
        target = self.clock.now() + max(seconds, 0.0)
        timers = self.timers
        while timers and timers[0][0] <= target:
            at, _, action = heapq.heappop(timers)
            self.clock.advance(at - self.clock.now())
            action()
            self.run()
        self.clock.advance(target - self.clock.now())

    def ns(self, name: str) -> Namespace:
        ns = self.namespaces.get(name)
        if ns is None:
            raise from_errno(errno.ENOENT, f"namespace {name!r} does not exist")
        return ns

    # -- the wire --------------------------------------------------------------------------
    def run_until(self, done: Callable[[], bool], deadline: float) -> bool:
        """Deliver, then fire timers in order, until `done()` or the clock reaches `deadline`
        (timers due exactly then do not fire); True if done."""
        self.run()
        timers = self.timers
        while not done():
            if not timers or timers[0][0] >= deadline:
                self.clock.advance(deadline - self.clock.now())
                return done()
            at, _, action = heapq.heappop(timers)
            self.clock.advance(at - self.clock.now())
            action()
            self.run()
        return True

    def xmit(self, dev: Device, frame: Frame) -> None:
        """dev_queue_xmit on `dev`: through its root qdisc, if it has one, onto the wire."""
        if not dev.up:
            return
        qdisc = dev.qdisc
        if qdisc is not None:
            now = self.clock.now()
            departure = qdisc.departure(now, frame_length(frame))
            if departure is None:
                return  # over the queue limit: dropped
            if departure > now:
                self.schedule(departure, Departure(self, dev, frame))
                return
        self.wire(dev, frame)

    def wire(self, dev: Device, frame: Frame) -> None:
        """The driver's transmit: hand the frame to whatever is at the other end."""
        if not dev.up:
            return
        if isinstance(dev, Veth):
            if dev.peer.up:  # veth_xmit drops while the peer is down (no carrier)
                self.queue.append((dev.peer, frame))
        elif isinstance(dev, Bridge):
            bridge_xmit(self, dev.br, frame)
        elif isinstance(dev, Loopback):
            self.queue.append((dev, frame))

    def receive(self, dev: Device, frame: Frame) -> None:
        """netif_receive_skb on `dev`: the bridge's rx_handler takes frames of its ports."""
        if not dev.up:
            return
        if dev.port is not None:
            bridge_receive(self, dev.port, frame)
        else:
            self.stack_receive(dev, frame)

    def stack_receive(self, dev: Device, frame: Frame) -> None:
        netif_receive(self, dev, frame)

    def run(self) -> None:
        """Deliver frames in flight until none are left."""
        queue = self.queue
        delivered = 0
        while queue:
            dev, frame = queue.popleft()
            self.receive(dev, frame)
            delivered += 1
            if delivered >= STORM_LIMIT:
                queue.clear()  # a loop without STP: the kernel would melt down too
