"""Packet traces in the simulator: one probe and its reply, followed through the packet path.

While the probe runs, the world's hooks are wrapped (`TracingHooks`: each netfilter hook, its
tables' verdicts, conntrack state and NAT rewrites, the routing decision and why a packet
goes no further), and its devices tapped (`capture.add_tap`: devices in and out, bridge
decisions, ARP). The request phase ends when another packet is sent locally (the reply); the
reply phase when a third one is (TCP's ACK, say).

Layering: above the stack, part of the backend: it wraps the world's hooks for one probe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ctrnet.backends.sim import netfilter as sim_netfilter
from ctrnet.backends.sim.capture import add_tap, remove_tap
from ctrnet.backends.sim.conntrack import Conn
from ctrnet.backends.sim.devices import BridgeState, Device, Namespace, Port
from ctrnet.backends.sim.hooks import Hook, Hooks
from ctrnet.backends.sim.ipv4 import LIMITED_BROADCAST, icmp_error_would_go, route_output
from ctrnet.backends.sim.packet import (
    Arp,
    Frame,
    IPv4,
    ip_str,
    is_multicast_mac,
    mac_str,
)
from ctrnet.backends.sim.pcap import frame_bytes
from ctrnet.errors import BackendError
from ctrnet.netfilter.evaluate import Outcome
from ctrnet.netfilter.model import CtState, Dnat, Masquerade, Snat, Standard, Verdict
from ctrnet.troubleshoot.tcpdump_format import Formatter
from ctrnet.troubleshoot.trace import Direction, Hop, PacketTrace, Step, run_probe
from ctrnet.troubleshoot.wire import decode
from ctrnet.types import PortState

if TYPE_CHECKING:
    from ctrnet.backends.sim.world import World


class Recorder:
    """Collects the hops of the traced exchange, in the order they happen."""

    def __init__(self, world: World, origin: str) -> None:
        self.world = world
        self.origin = origin
        self.phase: Direction | None = Direction.REQUEST
        self.request: tuple[int, int] | None = None  # (src, dst) of the request
        self.hops: list[Hop] = []
        self.ns: str = origin  # where the hooks run right now
        self._format = Formatter(absolute_seq=True)

    def add(self, ns: str, step: Step, detail: str, dev: str | None = None, *,
            phase: Direction | None = None, **nf: Any) -> None:
        """Record a hop in the current phase (or in `phase`, the one a hook began in)."""
        current = self.phase
        phase = phase or current
        if phase is None or (current is None and step is not Step.DROP):
            return
        hop = Hop(phase, ns, step, detail, dev, **nf)
        if phase is current:
            self.hops.append(hop)
            return
        # A hop of the earlier phase: it goes after that phase's last hop.
        last = max((i for i, h in enumerate(self.hops) if h.direction is phase), default=-1)
        self.hops.insert(last + 1, hop)

    # -- phases --------------------------------------------------------------------------
    def locally_sent(self, ns: Namespace, packet: IPv4) -> None:
        """OUTPUT: a packet made in `ns`. The first is the request; a retransmission of it
        ends the trace (the request was lost); any other starts, or ends, the reply."""
        if self.phase is None:
            return
        if self.request is None:
            self.request = (packet.src, packet.dst)
        elif self.phase is Direction.REQUEST:
            same = ns.name == self.origin and (packet.src, packet.dst) == self.request
            self.phase = None if same else Direction.REPLY
        else:
            self.phase = None

    # -- devices ---------------------------------------------------------------------------
    def frame(self, dev: Device, frame: Frame, outgoing: bool) -> None:
        if self.phase is None or (self.request is None and not outgoing):
            return
        text = self._format.describe(decode(frame_bytes(frame, self.world.clock.now())))
        ns = dev.ns.name
        if isinstance(frame.payload, Arp):
            self.add(ns, Step.NEIGH, ("sends " if outgoing else "receives ") + text, dev.name)
        else:
            self.add(ns, Step.TRANSMIT if outgoing else Step.RECEIVE, text, dev.name)
        if not outgoing and dev.port is not None and dev.up:
            self.add(ns, Step.BRIDGE, _bridge_decision(dev.port, frame,
                                                        self.world.clock.now()), dev.name)


def _bridge_decision(port: Port, frame: Frame, now: float) -> str:
    """What br_handle_frame will do with `frame`, arriving on `port`."""
    br = port.br
    state = port.state(now)
    name = br.dev.name
    if state not in (PortState.FORWARDING, PortState.LEARNING):
        return f"{name}: port {port.dev.name} is {state.name}: frame dropped (STP)"
    if state is PortState.LEARNING:
        return f"{name}: port {port.dev.name} is LEARNING: source learned, frame dropped (STP)"
    if is_multicast_mac(frame.dst):
        return f"{name}: broadcast/multicast: flooded to the forwarding ports and passed up"
    rec = br.lookup(frame.dst, now)  # ages the FDB first, as br_handle_frame's lookup does
    if rec is None:
        return f"{name}: {mac_str(frame.dst)} not in the FDB: flooded"
    if rec.local:
        return f"{name}: {mac_str(frame.dst)} is the bridge's own: passed up to its stack"
    out = rec.port
    if out is None:
        return f"{name}: FDB entry without port"
    if out is port:
        if port.hairpin:
            return f"{name}: FDB hit on the ingress port {port.dev.name}: hairpin sends it back"
        return (f"{name}: FDB hit on the ingress port {port.dev.name}: dropped "
                "(hairpin off)")
    out_state = out.state(now)
    if out_state is not PortState.FORWARDING:
        return f"{name}: FDB hit on {out.dev.name}, which is {out_state.name}: dropped (STP)"
    return f"{name}: FDB hit: {mac_str(frame.dst)} is behind {out.dev.name}"


class TracingHooks(Hooks):
    """Wraps the world's hooks: same verdicts, each one recorded."""

    __slots__ = ("inner", "rec")

    def __init__(self, inner: Hooks, rec: Recorder) -> None:
        self.inner = inner
        self.rec = rec

    def run(self, hook: Hook, ns: Namespace, packet: IPv4, indev: Device | None,
            outdev: Device | None) -> IPv4 | None:
        rec = self.rec
        if hook is Hook.OUTPUT:
            rec.locally_sent(ns, packet)
            rec.add(ns.name, Step.SEND, f"{ip_str(packet.src)} > {ip_str(packet.dst)}",
                    outdev.name if outdev is not None else None)
            rec.add(ns.name, Step.ROUTE, _route_text(ns, packet.dst))
        elif hook is Hook.FORWARD and outdev is not None:
            rec.add(ns.name, Step.ROUTE, "forwarded: " + _route_text(ns, packet.dst),
                    outdev.name)
        elif hook is Hook.POSTROUTING and outdev is not None:
            rec.add(ns.name, Step.NEIGH,
                    _neigh_text(ns, outdev, packet.dst, rec.world.clock.now()), outdev.name)
        before = _addresses(packet)
        # REJECT answers before the hook returns: its verdict belongs to the phase it began in.
        phase = rec.phase
        saved, rec.ns = rec.ns, ns.name
        try:
            out = self.inner.run(hook, ns, packet, indev, outdev)
        finally:
            rec.ns = saved
        dev = (indev or outdev)
        if out is None:
            rec.add(ns.name, Step.DROP, f"dropped by netfilter at {hook.value}",
                    dev.name if dev is not None else None, phase=phase)
            return None
        if hook in (Hook.PREROUTING, Hook.OUTPUT) and isinstance(out.ct, Conn):
            rec.add(ns.name, Step.CONNTRACK, f"connection state {_ct_state(out)}")
        after = _addresses(out)
        if after != before:
            kind = "DNAT" if hook in (Hook.PREROUTING, Hook.OUTPUT) else "SNAT"
            rec.add(ns.name, Step.NAT, f"{kind} {_endpoints(before)} -> {_endpoints(after)}")
        if hook is Hook.PREROUTING and indev is not None:
            self._after_prerouting(ns, out, indev)
        elif hook is Hook.INPUT:
            rec.add(ns.name, Step.DELIVER, f"delivered to the local stack of {ns.name}",
                    indev.name if indev is not None else None)
        return out

    def _after_prerouting(self, ns: Namespace, packet: IPv4, indev: Device) -> None:
        """Say what ip_rcv will do next, and why a packet goes no further (mirrors ip_rcv)."""
        rec = self.rec
        fib = ns.fib
        if fib.is_local(packet.dst) or packet.dst == LIMITED_BROADCAST \
                or packet.dst in fib.broadcasts:
            rec.add(ns.name, Step.ROUTE, f"{ip_str(packet.dst)} is local: input", indev.name)
            return
        if not ns.forwarding(indev):
            rec.add(ns.name, Step.DROP, f"not for this host and forwarding is off on "
                    f"{indev.name} (net.ipv4.ip_forward=0): dropped", indev.name)
            return
        try:
            route_output(ns, packet.dst)
        except BackendError:
            rec.add(ns.name, Step.DROP, f"no route to {ip_str(packet.dst)}: dropped, ICMP "
                    f"net unreachable {_icmp_fate(rec.world, ns, packet, 3, 0, indev, True)}",
                    indev.name)
            return
        if packet.ttl <= 1:
            rec.add(ns.name, Step.DROP, "TTL exceeded: dropped, ICMP time exceeded "
                    f"{_icmp_fate(rec.world, ns, packet, 11, 0, indev, False)}", indev.name)

    def bridge(self, hook: Hook, br: BridgeState, frame: Frame, in_port: Port | None,
               out_port: Port | None) -> Frame | None:
        rec = self.rec
        phase = rec.phase
        saved, rec.ns = rec.ns, br.dev.ns.name
        try:
            out = self.inner.bridge(hook, br, frame, in_port, out_port)
        finally:
            rec.ns = saved
        if out is None:
            port = in_port or out_port
            rec.add(br.dev.ns.name, Step.DROP,
                    f"dropped by netfilter at {hook.value} of {br.dev.name}",
                    port.dev.name if port is not None else None, phase=phase)
        return out

    def bridged_dnat(self, br: BridgeState, frame: Frame) -> tuple[Port, Frame] | None:
        return self.inner.bridged_dnat(br, frame)

    # -- one table's verdict (called from the wrapped `evaluate`) -------------------------
    def verdict(self, table: str, chain: str, outcome: Outcome) -> None:
        if outcome.verdict is Verdict.RETURN:
            return
        ref = outcome.rule
        where = ref.chain if ref is not None else (outcome.policy_chain or chain)
        verdict = "DROP" if outcome.verdict is Verdict.DROP else "ACCEPT"
        if ref is not None:
            target = ref.rule.target
            if outcome.reject is not None:
                name = "REJECT"
            elif isinstance(target, (Dnat, Snat, Masquerade)):
                name = type(target).__name__.upper()
            elif isinstance(target, Standard):
                name = target.verdict.name
            else:
                name = verdict
            detail = f"{table}:{where} rule {ref.num} matched: {name}"
        else:
            detail = f"{table}:{where} policy {verdict}"
        self.rec.add(self.rec.ns, Step.NETFILTER, detail, table=table, chain=where,
                     rule=ref.num if ref is not None else None, verdict=verdict)


def _addresses(packet: IPv4) -> tuple[int, int, int | None, int | None]:
    payload = packet.payload
    sport = getattr(payload, "sport", None)
    dport = getattr(payload, "dport", None)
    return packet.src, packet.dst, sport, dport


def _endpoints(addrs: tuple[int, int, int | None, int | None]) -> str:
    src, dst, sport, dport = addrs
    if sport is None:
        return f"{ip_str(src)} > {ip_str(dst)}"
    return f"{ip_str(src)}:{sport} > {ip_str(dst)}:{dport}"


def _ct_state(packet: IPv4) -> str:
    state = CtState(packet.ctinfo)
    names = [s.name for s in (CtState.NEW, CtState.ESTABLISHED, CtState.RELATED)
             if s in state and s.name is not None]
    return ",".join(names) or "INVALID"


def _route_text(ns: Namespace, dst: int) -> str:
    try:
        route = route_output(ns, dst)
    except BackendError:
        return f"no route to {ip_str(dst)} (Network is unreachable)"
    if route.local:
        return f"{ip_str(dst)} is local"
    rec = ns.fib.lookup(dst)
    match = (f"{ip_str(rec.net)}/{rec.plen}" if rec is not None and rec.plen
             else "default")
    via = f" via {ip_str(route.gateway)}" if route.gateway is not None else ""
    src = f" src {ip_str(route.src)}" if route.src is not None else ""
    return f"route {match}{via} dev {route.dev.name}{src} matches {ip_str(dst)}"


def _icmp_fate(world: World, ns: Namespace, packet: IPv4, type: int, code: int,
               indev: Device, no_route: bool) -> str:
    if icmp_error_would_go(world, ns, packet, type, code, indev, no_route=no_route):
        return "sent back"
    return f"not sent (rate limit of ICMP errors to {ip_str(packet.src)})"


def _neigh_text(ns: Namespace, dev: Device, dst: int, now: float) -> str:
    try:
        route = route_output(ns, dst)
        nexthop = route.nexthop
    except BackendError:
        nexthop = dst
    if dev.kind.value != "loopback":
        entry = ns.neigh.entries.get((dev, nexthop))
        if entry is None:
            return f"no neighbour entry for {ip_str(nexthop)} on {dev.name}: ARP first"
        state = entry.settle(now)
        mac = mac_str(entry.mac) if entry.mac is not None else "(none)"
        return f"neighbour {ip_str(nexthop)} is {state.value} at {mac}"
    return "loopback: no neighbour"


@contextmanager
def tracing(world: World, origin: str) -> Iterator[Recorder]:
    """Record the exchange that happens inside the block."""
    rec = Recorder(world, origin)
    inner = world.hooks
    hooks = TracingHooks(inner, rec)
    names = vars(sim_netfilter)
    original = names["evaluate"]

    def evaluate(ruleset: Any, table: str, chain: str, packet: Any, **kw: Any) -> Outcome:
        outcome: Outcome = original(ruleset, table, chain, packet, **kw)
        hooks.verdict(table, chain, outcome)
        return outcome

    # The simulator's netfilter looks `evaluate` up in its module at each call: for the
    # traced exchange only, it reports each table's outcome (no cost on untraced packets).
    names["evaluate"] = evaluate
    world.hooks = hooks  # a wrapper around the Netfilter
    add_tap(world, rec.frame)
    try:
        yield rec
    finally:
        remove_tap(world, rec.frame)
        world.hooks = inner
        names["evaluate"] = original


class TraceOps:
    """SimBackend's `trace`."""

    world: World

    def trace(self, ns: str, dst: str, *, proto: str = "icmp", port: int | None = None,
              timeout: float = 1.0) -> PacketTrace:
        self.world.ns(ns)  # ENOENT before anything is sent
        with tracing(self.world, ns) as rec:
            outcome = run_probe(self, ns, dst, proto, port, timeout)  # type: ignore[arg-type]
        return PacketTrace(ns, dst, proto, port, outcome, tuple(rec.hops))
