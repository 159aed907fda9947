"""The simulated world: its namespaces, the clock, and the delivery of frames (net/core/dev.c).

Layering: above the data (`devices.py`: namespaces, devices, bridge state; `packet.py`:
frames) and below every protocol handler. Handlers register here as they do in the kernel's
core, instead of the world importing them: `dev_add_pack` for an ethertype (ipv4.py: IPv4,
neighbour.py: ARP), `netdev_rx_handler_register` for the frames of bridge ports and
`register_br_dev_xmit` for what a bridge device sends (bridge.py), `nf_register_hooks` for
the netfilter hook points the packet path calls (netfilter.py; `hooks.py` names them).
`stack.py` imports every handler, and the package imports it first, so a world is always
complete.

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
from typing import NoReturn

from ctrnet.backends.sim.clock import Clock
from ctrnet.backends.sim.devices import Bridge, BridgeState, Device, Loopback, Namespace, Port, Veth
from ctrnet.backends.sim.hooks import Hooks
from ctrnet.backends.sim.icmplimit import DEFAULTS as ICMP_LIMIT_DEFAULTS
from ctrnet.backends.sim.packet import Frame, frame_length
from ctrnet.errors import NotModelled, from_errno
from ctrnet.types import LinkKind

#: Per-namespace sysctl defaults; a namespace stores only what was changed.
SYSCTL_DEFAULTS: dict[str, str] = {
    "net.ipv4.ip_forward": "0",
    "net.ipv4.ip_default_ttl": "64",
    "net.ipv4.icmp_echo_ignore_all": "0",
    "net.ipv4.icmp_echo_ignore_broadcasts": "1",
    **ICMP_LIMIT_DEFAULTS,  # icmp_ratelimit, icmp_ratemask, icmp_msgs_per_sec, icmp_msgs_burst
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


_LOOPBACK_KIND = LinkKind.LOOPBACK

# -- hook points of the core (what registers here is named in the module docstring) ----------
#: A link-layer protocol handler (struct packet_type's func): the world, the device the frame
#: came in by, the frame, and whether it was addressed to this host (eth_type_trans's
#: PACKET_HOST; a multicast frame is for the handler to judge).
PacketHandler = Callable[["World", Device, Frame, bool], None]
#: What takes the frames arriving on a bridge port (the bridge's rx_handler).
RxHandler = Callable[["World", Port, Frame], None]
#: What a bridge device does with a frame its own stack sends (its ndo_start_xmit).
BridgeXmit = Callable[["World", BridgeState, Frame], None]
#: What answers the netfilter hook points of a new world.
HooksFactory = Callable[["World"], Hooks]

#: dev_add_pack: the handler of each ethertype; frames of other ethertypes are dropped.
ptype_base: dict[int, PacketHandler] = {}


def _not_registered(*args: object) -> NoReturn:
    raise RuntimeError("a protocol handler of the simulator is missing: import "
                       "ctrnet.backends.sim.stack (the package does) before making a World")


_br_handle_frame: RxHandler = _not_registered
_br_dev_xmit: BridgeXmit = _not_registered
_nf_hooks: HooksFactory = _not_registered


def dev_add_pack(ethertype: int, handler: PacketHandler) -> None:
    ptype_base[ethertype] = handler


def netdev_rx_handler_register(handler: RxHandler) -> None:
    global _br_handle_frame
    _br_handle_frame = handler


def register_br_dev_xmit(handler: BridgeXmit) -> None:
    global _br_dev_xmit
    _br_dev_xmit = handler


def nf_register_hooks(factory: HooksFactory) -> None:
    global _nf_hooks
    _nf_hooks = factory


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
        self.hooks: Hooks = _nf_hooks(self)
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
            _br_dev_xmit(self, dev.br, frame)
        elif isinstance(dev, Loopback):
            self.queue.append((dev, frame))

    def receive(self, dev: Device, frame: Frame) -> None:
        """netif_receive_skb on `dev`: the bridge's rx_handler takes frames of its ports."""
        if not dev.up:
            return
        if dev.port is not None:
            _br_handle_frame(self, dev.port, frame)
        else:
            self.stack_receive(dev, frame)

    def stack_receive(self, dev: Device, frame: Frame) -> None:
        """__netif_receive_skb past the rx_handler: the frame goes to the handler of its
        ethertype (dev_add_pack), told whether it was addressed to this host."""
        handler = ptype_base.get(frame.ethertype)
        if handler is not None:
            # A bridge passes up frames for its ports' own addresses as PACKET_HOST.
            to_us = (frame.dst == dev.mac or dev.kind is _LOOPBACK_KIND
                     or dev.ns.is_local_mac(dev, frame))
            handler(self, dev, frame, to_us)

    def run(self) -> None:
        """Deliver frames in flight until none are left. A handler that meets what the
        simulator does not model raises NotModelled; the other frames are still delivered,
        then the first such refusal is raised to whoever made the world run."""
        queue = self.queue
        delivered = 0
        refused: NotModelled | None = None
        while queue:
            dev, frame = queue.popleft()
            try:
                self.receive(dev, frame)
            except NotModelled as err:
                refused = refused or err
            delivered += 1
            if delivered >= STORM_LIMIT:
                queue.clear()  # a loop without STP: the kernel would melt down too
        if refused is not None:
            raise refused
