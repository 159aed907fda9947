"""The Linux bridge: ports with STP states, the forwarding database, and frame forwarding.

Follows net/bridge: br_handle_frame (ingress: learn, then forward / flood / pass up),
br_dev_xmit (frames the bridge device itself sends), should_deliver (only FORWARDING ports,
never back out of the ingress port unless hairpin). Port states, FDB ageing and the bridge
carrier are evaluated lazily against the virtual clock instead of with timers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctrnet.backends.sim.hooks import Hook
from ctrnet.backends.sim.packet import Frame, is_multicast_mac
from ctrnet.types import PortState

if TYPE_CHECKING:
    from ctrnet.backends.sim.clock import Clock
    from ctrnet.backends.sim.devices import Bridge, Device
    from ctrnet.backends.sim.world import World

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


# -- forwarding --------------------------------------------------------------------------------
def _should_deliver(port: Port, ingress: Port | None, now: float) -> bool:
    return (port is not ingress or port.hairpin) and port.state(now) == PortState.FORWARDING


def _egress(world: World, br: BridgeState, port: Port, frame: Frame,
            ingress: Port | None) -> None:
    """__br_forward: LOCAL_OUT for what the bridge device sends, FORWARD for what it bridges,
    then POSTROUTING (ebtables and, for IPv4, br_netfilter's iptables)."""
    hooks = world.hooks
    out = hooks.bridge(Hook.BR_FORWARD if ingress is not None else Hook.BR_LOCAL_OUT, br, frame,
                       ingress, port)
    if out is not None:
        out = hooks.bridge(Hook.BR_POSTROUTING, br, out, ingress, port)
    if out is not None:
        world.xmit(port.dev, out)


def _flood(world: World, br: BridgeState, frame: Frame, ingress: Port | None,
           now: float) -> None:
    for port in br.ports.values():
        if _should_deliver(port, ingress, now):
            _egress(world, br, port, frame, ingress)


def _pass_up(world: World, br: BridgeState, frame: Frame, ingress: Port) -> None:
    out = world.hooks.bridge(Hook.BR_LOCAL_IN, br, frame, ingress, None)
    if out is not None:
        world.stack_receive(br.dev, out)


def bridge_receive(world: World, port: Port, frame: Frame) -> None:
    """br_handle_frame: a frame arriving on `port`."""
    br = port.br
    now = world.clock.now()
    br.gc_until(now)
    state = port.state(now)
    if state != PortState.FORWARDING and state != PortState.LEARNING:
        return  # DISABLED/LISTENING/BLOCKING ports take in nothing (BPDUs aside)
    if port.learning and not is_multicast_mac(frame.src):
        br.learn(port, frame.src, now)
    if state == PortState.LEARNING:
        return
    hooked = world.hooks.bridge(Hook.BR_PREROUTING, br, frame, port, None)
    if hooked is not None:
        bridge_finish(world, port, hooked, now)


def bridge_finish(world: World, port: Port, frame: Frame, now: float) -> None:
    """br_handle_frame_finish: deliver locally, forward, or flood a frame from `port`."""
    br = port.br
    if is_multicast_mac(frame.dst):
        _flood(world, br, frame, port, now)
        _pass_up(world, br, frame, port)
        return
    rec = br.lookup(frame.dst, now)
    if rec is None:
        # Unknown unicast is flooded, and not passed up unless the bridge is promiscuous.
        _flood(world, br, frame, port, now)
    elif rec.local:
        _pass_up(world, br, frame, port)
    elif rec.port is not None and _should_deliver(rec.port, port, now):
        _egress(world, br, rec.port, frame, port)


def bridge_xmit(world: World, br: BridgeState, frame: Frame) -> None:
    """br_dev_xmit: a frame the bridge device's own stack sends."""
    now = world.clock.now()
    resumed = world.hooks.bridged_dnat(br, frame)
    if resumed is not None:
        # br_nf_prerouting_finish_bridge: a DNATed frame whose new neighbour had to be
        # resolved first goes on being bridged from the port it came in by.
        port, frame = resumed
        bridge_finish(world, port, frame, now)
        return
    if is_multicast_mac(frame.dst):
        _flood(world, br, frame, None, now)
        return
    rec = br.lookup(frame.dst, now)
    if rec is None:
        _flood(world, br, frame, None, now)
    elif rec.port is not None and not rec.local and _should_deliver(rec.port, None, now):
        _egress(world, br, rec.port, frame, None)
