"""Packet capture in the simulator: taps on devices, fed where the kernel's packet taps are.

dev_queue_xmit_nit shows a device's outgoing frames to packet sockets as the driver gets
them (after the qdisc); __netif_receive_skb_core shows incoming ones before the bridge's
rx_handler takes them; a bridge device "receives" what the bridge passes up to its stack.
A world gets the taps by switching to `TappedWorld` (same slots, the three entry points
observed) while some tap is open, and back when the last one closes: untapped worlds pay
nothing.

Layering: above the stack, part of the backend: `TappedWorld` extends the world's
delivery; no handler imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from ctrnet.backend import Capture
from ctrnet.backends.sim.devices import Bridge, Device, Loopback
from ctrnet.backends.sim.packet import Frame
from ctrnet.backends.sim.pcap import frame_bytes
from ctrnet.backends.sim.world import World
from ctrnet.troubleshoot import pcap
from ctrnet.troubleshoot.pcapfilter import Predicate, compile_filter
from ctrnet.troubleshoot.wire import decode

#: A tap: (device, frame, outgoing) for every frame seen on any device of the world.
Tap = Callable[[Device, Frame, bool], None]
#: The taps of each tapped world, by id (World has __slots__ and no __weakref__).
_TAPS: dict[int, list[Tap]] = {}


class TappedWorld(World):
    """A World whose frames are shown to its taps. Adds no state (same layout as World)."""

    __slots__ = ()

    def _tap(self, dev: Device, frame: Frame, outgoing: bool) -> None:
        for tap in list(_TAPS.get(id(self), ())):
            tap(dev, frame, outgoing)

    def wire(self, dev: Device, frame: Frame) -> None:
        # lo's frames are shown once, as they come back in (PACKET_LOOPBACK copies are not
        # shown twice to a socket bound to lo).
        if dev.up and not isinstance(dev, Loopback):
            self._tap(dev, frame, True)
        super().wire(dev, frame)

    def receive(self, dev: Device, frame: Frame) -> None:
        if dev.up:
            self._tap(dev, frame, False)
        super().receive(dev, frame)

    def stack_receive(self, dev: Device, frame: Frame) -> None:
        if isinstance(dev, Bridge):  # br_pass_frame_up: netif_receive_skb on the bridge
            self._tap(dev, frame, False)
        super().stack_receive(dev, frame)


def add_tap(world: World, tap: Tap) -> None:
    _TAPS.setdefault(id(world), []).append(tap)
    if type(world) is World:
        world.__class__ = TappedWorld


def remove_tap(world: World, tap: Tap) -> None:
    taps = _TAPS.get(id(world), [])
    if tap in taps:
        taps.remove(tap)
    if not taps:
        _TAPS.pop(id(world), None)
        if type(world) is TappedWorld:
            world.__class__ = World  # type: ignore[assignment]  # back to the plain class


class SimCapture(Capture):
    """Frames of one device, serialized as they pass, kept in memory until `stop`."""

    def __init__(self, world: World, dev: Device, filter: str | None) -> None:
        self.ns = dev.ns.name
        self.ifname = dev.name
        self._world = world
        self._dev = dev
        self._keep: Predicate = compile_filter(filter)
        self._records: list[pcap.Record] = []
        self._result: bytes | None = None
        add_tap(world, self._seen)

    def _seen(self, dev: Device, frame: Frame, outgoing: bool) -> None:
        if dev is not self._dev:
            return
        data = frame_bytes(frame, self._world.clock.now())
        if self._keep(decode(data)):
            self._records.append(pcap.Record(self._world.clock.now(), data))

    @property
    def records(self) -> list[pcap.Record]:
        """What was captured so far."""
        return list(self._records)

    def stop(self) -> bytes:
        if self._result is None:
            remove_tap(self._world, self._seen)
            self._result = pcap.write(self._records)
        return self._result


class CaptureOps:
    """SimBackend's `capture_start`."""

    world: World

    def capture_start(self, ns: str, ifname: str, *, filter: str | None = None) -> Capture:
        dev = self.world.ns(ns).device(ifname)
        compile_filter(filter)  # a bad filter fails here, not on the first frame
        return SimCapture(self.world, dev, filter)
