"""Netfilter in the simulated packet path: iptables tables at the IPv4 hooks, conntrack, NAT
and REJECT (br_netfilter and ebtables at the bridge hooks: `br_netfilter.py`).

Layering: a handler above the IPv4 path. `Netfilter` implements the hook points of `hooks.py`
and registers itself as what answers them in every new world (`world.nf_register_hooks`, as
nf_register_net_hook does); it calls into `ipv4.py` to send what REJECT answers and to route
for MASQUERADE, and nothing below imports it. A namespace's rules, ebtables filter and
conntrack table are data (`nfstate.NfState`).

Per hook the tables run in the kernel's priority order: raw (-300), conntrack (-200), mangle
(-150), nat DNAT (-100), filter (0), security (50), nat SNAT (100), conntrack confirm (last).
The nat table is consulted for a connection's first packet only. A namespace pays nothing until
it has rules: its `NfState` is made on the first iptables/ebtables write.
"""

from __future__ import annotations

from ctrnet.backends.sim import nat
from ctrnet.backends.sim.br_netfilter import BridgeHooks, BrNf, brnf_of
from ctrnet.backends.sim.conntrack import DST_NAT, SRC_NAT, Conn, attach_related
from ctrnet.backends.sim.devices import Device, Namespace
from ctrnet.backends.sim.hooks import Hook, Hooks
from ctrnet.backends.sim.ipv4 import icmp_error, ip_local_out, route_output
from ctrnet.backends.sim.nfstate import NfState
from ctrnet.backends.sim.packet import (
    ICMP_DEST_UNREACH,
    IPPROTO_TCP,
    TCP_ACK,
    TCP_RST,
    TCP_SYN,
    Icmp,
    IPv4,
    Tcp,
    Udp,
)
from ctrnet.backends.sim.world import World, nf_register_hooks
from ctrnet.netfilter.evaluate import Outcome, evaluate
from ctrnet.netfilter.match import Packet
from ctrnet.netfilter.model import (
    AddrType,
    CtState,
    Dnat,
    Masquerade,
    Reject,
    Snat,
    Verdict,
)

#: --reject-with -> ICMP destination-unreachable code (ipt_REJECT.c).
REJECT_CODES = {
    "icmp-net-unreachable": 0, "icmp-host-unreachable": 1, "icmp-proto-unreachable": 2,
    "icmp-port-unreachable": 3, "icmp-net-prohibited": 9, "icmp-host-prohibited": 10,
    "icmp-admin-prohibited": 13,
}
# Enum members bound once: on Python 3.11 every `Hook.X` / `CtState.X` is a metaclass
# attribute lookup (~150 ns), and each packet meets several.
_PREROUTING, _INPUT, _FORWARD, _OUTPUT = Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT
_DROP = Verdict.DROP
_NEW, _RELATED, _INVALID = CtState.NEW, CtState.RELATED, CtState.INVALID


def nf_state(world: World, ns: Namespace) -> NfState:
    if ns.nf is None:
        ns.nf = NfState(world.clock)
    state: NfState = ns.nf
    return state


class AddrTypes:
    """The addrtype match's view of the namespace's routes (inet_addr_type)."""

    __slots__ = ("ns",)

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns

    def __call__(self, ip: int, dev: str | None) -> AddrType:
        fib = self.ns.fib
        if ip == 0xFFFFFFFF or ip in fib.broadcasts:
            return AddrType.BROADCAST
        if ip >> 28 == 0xE:
            return AddrType.MULTICAST
        if fib.is_local(ip):
            if dev is None or any(a == ip for a, _ in self.ns.devices[dev].addrs):
                return AddrType.LOCAL
            return AddrType.UNICAST
        return AddrType.UNICAST if fib.lookup(ip) is not None else AddrType.UNREACHABLE


def _view(nf: NfState, ns: Namespace, packet: IPv4, iif: Device | None, oif: Device | None,
          brnf: BrNf | None) -> Packet:
    payload = packet.payload
    sport = dport = itype = icode = None
    if isinstance(payload, (Tcp, Udp)):
        sport, dport = payload.sport, payload.dport
    elif isinstance(payload, Icmp):
        itype, icode = payload.type, payload.code
    conn = packet.ct
    if isinstance(conn, Conn):
        # int(): `|` on the IntFlag itself would build a new flag (slow).
        state = _STATES[int(packet.ctinfo) | ((conn.status & (SRC_NAT | DST_NAT)) << 1)]
    else:
        state = _INVALID
    return Packet(packet.src, packet.dst, packet.proto, sport, dport, itype, icode,
                  iif.name if iif is not None else None, oif.name if oif is not None else None,
                  state, packet.mark, packet.length(), brnf is not None,
                  brnf.physin.name if brnf is not None else None,
                  brnf.physout.name if brnf is not None and brnf.physout is not None else None,
                  nf.addr_types or _addr_types(nf, ns))


#: The conntrack match's view: ctinfo | SNAT/DNAT bits (IPS_SRC_NAT/IPS_DST_NAT << 1, which
#: are CtState.SNAT/DNAT) -> CtState, built once (IntFlag arithmetic is slow per packet).
_STATES = {int(CtState(info) | nat_bits): CtState(info) | nat_bits
           for info in (CtState.NEW, CtState.ESTABLISHED, CtState.RELATED, CtState.INVALID)
           for nat_bits in (CtState(0), CtState.SNAT, CtState.DNAT, CtState.SNAT | CtState.DNAT)}


def _addr_types(nf: NfState, ns: Namespace) -> AddrTypes:
    nf.addr_types = AddrTypes(ns)
    return nf.addr_types


class Netfilter(BridgeHooks, Hooks):
    """The hook points' verdicts, from each namespace's rules (replaces the accept-all Hooks)."""

    __slots__ = ("world",)

    def __init__(self, world: World) -> None:
        self.world = world

    # -- IPv4 hooks ------------------------------------------------------------------------
    def run(self, hook: Hook, ns: Namespace, packet: IPv4, indev: Device | None,
            outdev: Device | None) -> IPv4 | None:
        nf: NfState | None = ns.nf
        if nf is None:
            return packet
        brnf = brnf_of(packet, ns) if packet.brnf is not None else None
        if hook is _PREROUTING:
            if brnf is not None:
                return packet  # ip_sabotage_in: br_netfilter ran PREROUTING at the bridge
            return self._prerouting(nf, ns, packet, indev, None)
        if hook is _OUTPUT:
            return self._output(nf, ns, packet, outdev)
        if hook is _INPUT:
            return self._input(nf, ns, packet, indev, brnf)
        if hook is _FORWARD:
            return self._forward(nf, ns, packet, indev, outdev, brnf)
        return self._postrouting(nf, ns, packet, outdev, brnf)

    def _filter(self, nf: NfState, ns: Namespace, tables: tuple[str, ...], chain: str,
                packet: IPv4, indev: Device | None, outdev: Device | None,
                brnf: BrNf | None) -> bool:
        """Run `chain` of each of `tables` in turn; False when one drops the packet."""
        for table in nf.plan(tables, chain):
            outcome = evaluate(nf.rules, table, chain,
                               _view(nf, ns, packet, indev, outdev, brnf))
            packet.mark = outcome.mark
            for entry in outcome.logs:
                nf.log.append(entry.text)
            if outcome.verdict is _DROP:
                if outcome.reject is not None:
                    self._reject(ns, packet, outcome.reject, indev)
                return False
        return True

    def _track(self, nf: NfState, packet: IPv4) -> None:
        ct = packet.ct
        if isinstance(ct, Conn) and ct.table is nf.conntrack:
            return  # already tracked here (looped through lo, or a REJECT's answer)
        if nf.tracking():
            nf.conntrack.track(packet)
        else:
            packet.ct, packet.ctinfo = None, 0

    def _nat(self, nf: NfState, ns: Namespace, chain: str, mtype: int, packet: IPv4,
             indev: Device | None, outdev: Device | None, brnf: BrNf | None) -> IPv4 | None:
        conn = packet.ct
        if not isinstance(conn, Conn) or conn.table is not nf.conntrack \
                or "nat" not in nf.rules.tables:
            return packet
        if packet.ctinfo == _NEW and not nat.initialized(conn, mtype):
            outcome = evaluate(nf.rules, "nat", chain,
                               _view(nf, ns, packet, indev, outdev, brnf))
            for entry in outcome.logs:
                nf.log.append(entry.text)
            if outcome.verdict is _DROP:
                return None
            if not self._bind(ns, conn, mtype, outcome, packet, outdev):
                return None
        return nat.manip(packet, mtype)

    def _bind(self, ns: Namespace, conn: Conn, mtype: int, outcome: Outcome, packet: IPv4,
              outdev: Device | None) -> bool:
        target = outcome.nat
        if isinstance(target, (Snat, Dnat)):
            to = target.to
            return nat.bind(conn, mtype, to.ip_min, to.port_min, to.port_max)
        if isinstance(target, Masquerade):
            # nf_nat_masquerade_ipv4: the out device's address for the next hop.
            try:
                nexthop = route_output(ns, packet.dst).nexthop
            except Exception:
                nexthop = packet.dst
            src = ns.select_src(outdev, nexthop) if outdev is not None else None
            if src is None:
                return False
            return nat.bind(conn, mtype, src, target.port_min, target.port_max)
        return nat.bind(conn, mtype, None, None, None)  # the null binding

    def _confirm(self, nf: NfState, packet: IPv4) -> bool:
        conn = packet.ct
        if isinstance(conn, Conn) and conn.table is nf.conntrack \
                and packet.ctinfo != _RELATED:
            return nf.conntrack.confirm(conn)
        return True

    def _prerouting(self, nf: NfState, ns: Namespace, packet: IPv4, indev: Device | None,
                    brnf: BrNf | None) -> IPv4 | None:
        if not self._filter(nf, ns, ("raw",), "PREROUTING", packet, indev, None, brnf):
            return None
        self._track(nf, packet)
        if not self._filter(nf, ns, ("mangle",), "PREROUTING", packet, indev, None, brnf):
            return None
        return self._nat(nf, ns, "PREROUTING", nat.DST, packet, indev, None, brnf)

    def _output(self, nf: NfState, ns: Namespace, packet: IPv4,
                outdev: Device | None) -> IPv4 | None:
        if not self._filter(nf, ns, ("raw",), "OUTPUT", packet, None, outdev, None):
            return None
        self._track(nf, packet)
        if not self._filter(nf, ns, ("mangle",), "OUTPUT", packet, None, outdev, None):
            return None
        out = self._nat(nf, ns, "OUTPUT", nat.DST, packet, None, outdev, None)
        if out is None:
            return None
        if not self._filter(nf, ns, ("filter", "security"), "OUTPUT", out, None, outdev, None):
            return None
        return out

    def _input(self, nf: NfState, ns: Namespace, packet: IPv4, indev: Device | None,
               brnf: BrNf | None) -> IPv4 | None:
        if not self._filter(nf, ns, ("mangle", "filter", "security"), "INPUT", packet, indev,
                            None, brnf):
            return None
        out = self._nat(nf, ns, "INPUT", nat.SRC, packet, indev, None, brnf)
        if out is None or not self._confirm(nf, out):
            return None
        return out

    def _forward(self, nf: NfState, ns: Namespace, packet: IPv4, indev: Device | None,
                 outdev: Device | None, brnf: BrNf | None) -> IPv4 | None:
        if not self._filter(nf, ns, ("mangle", "filter", "security"), "FORWARD", packet, indev,
                            outdev, brnf):
            return None
        return packet

    def _postrouting(self, nf: NfState, ns: Namespace, packet: IPv4, outdev: Device | None,
                     brnf: BrNf | None) -> IPv4 | None:
        if not self._filter(nf, ns, ("mangle",), "POSTROUTING", packet, None, outdev, brnf):
            return None
        out = self._nat(nf, ns, "POSTROUTING", nat.SRC, packet, None, outdev, brnf)
        if out is None or not self._confirm(nf, out):
            return None
        return out

    # -- REJECT ------------------------------------------------------------------------------
    def _reject(self, ns: Namespace, packet: IPv4, target: Reject,
                indev: Device | None) -> None:
        """ipt_REJECT: answer from this namespace, the answer tied to the rejected packet's
        connection as RELATED in the other direction (nf_ct_attach)."""
        world = self.world
        payload = packet.payload
        if target.with_ == "tcp-reset":
            if not isinstance(payload, Tcp) or payload.flags & TCP_RST:
                return
            if payload.flags & TCP_ACK:
                seg = Tcp(payload.dport, payload.sport, payload.ack, 0, TCP_RST)
            else:
                length = payload.size + (1 if payload.flags & TCP_SYN else 0)
                seg = Tcp(payload.dport, payload.sport, 0, payload.seq + length,
                          TCP_RST | TCP_ACK)
            reset = IPv4(packet.dst, packet.src, IPPROTO_TCP, seg, ident=world.next_ip_id())
            attach_related(reset, packet)
            ip_local_out(world, ns, reset)
            return
        code = REJECT_CODES.get(target.with_, 3)
        icmp_error(world, ns, packet, ICMP_DEST_UNREACH, code, indev=indev, related=True)


nf_register_hooks(Netfilter)
