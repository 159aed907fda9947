"""br_netfilter and ebtables at the simulated bridge's hooks (net/bridge/br_netfilter_hooks.c).

With net.bridge.bridge-nf-call-iptables 1 (the default), bridged IPv4 goes through iptables
PREROUTING, FORWARD and POSTROUTING of the bridge's namespace, the bridge device as -i/-o and
the ports for -m physdev; a DNAT whose new destination is back on the bridge turns into
bridging ("bridged DNAT"). The ebtables filter table sees every frame (ARP too) at INPUT,
FORWARD and OUTPUT.

Layering: a handler above the IPv4 path, part of netfilter: `netfilter.Netfilter` takes these
bridge hooks as a mixin. A bridged DNAT routes and resolves its new destination through
`ipv4.py` and `neighbour.py`; nothing below imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctrnet.backends.sim.devices import BridgeState, Device, Namespace, Port
from ctrnet.backends.sim.hooks import Hook
from ctrnet.backends.sim.ipv4 import route_output
from ctrnet.backends.sim.neighbour import neigh_output
from ctrnet.backends.sim.nfstate import NfState
from ctrnet.backends.sim.packet import ETH_P_IP, Arp, Frame, IPv4
from ctrnet.backends.sim.world import World
from ctrnet.errors import BackendError
from ctrnet.netfilter.ebtables import Frame as EbFrame
from ctrnet.types import NeighState


class BrNf:
    """br_netfilter's per-packet note (struct nf_bridge_info): the ports it crossed."""

    __slots__ = ("physin", "physout", "dnat_src")

    def __init__(self, physin: Device, physout: Device | None = None) -> None:
        self.physin = physin
        self.physout = physout
        self.dnat_src: int | None = None  # bridged DNAT waiting for ARP: the frame's source


def brnf_of(packet: IPv4, ns: Namespace) -> BrNf | None:
    brnf = packet.brnf
    # The note does not survive a trip to another namespace (skb_scrub_packet).
    if isinstance(brnf, BrNf) and brnf.physin.ns is ns:
        return brnf
    return None


class BridgeHooks:
    """The bridge hooks of `netfilter.Netfilter` (a mixin: the IPv4 chains are its own)."""

    if TYPE_CHECKING:
        world: World

        def _prerouting(self, nf: NfState, ns: Namespace, packet: IPv4, indev: Device | None,
                        brnf: BrNf | None) -> IPv4 | None: ...

        def _forward(self, nf: NfState, ns: Namespace, packet: IPv4, indev: Device | None,
                     outdev: Device | None, brnf: BrNf | None) -> IPv4 | None: ...

        def _postrouting(self, nf: NfState, ns: Namespace, packet: IPv4,
                         outdev: Device | None, brnf: BrNf | None) -> IPv4 | None: ...

    def bridge(self, hook: Hook, br: BridgeState, frame: Frame, in_port: Port | None,
               out_port: Port | None) -> Frame | None:
        ns = br.dev.ns
        nf: NfState | None = ns.nf
        if nf is None:
            return frame
        if hook is Hook.BR_PREROUTING:
            return self._br_prerouting(nf, ns, br, frame, in_port)
        if hook is Hook.BR_LOCAL_IN:
            return frame if self._ebtables(nf, "INPUT", frame, in_port, None) else None
        if hook is Hook.BR_LOCAL_OUT:
            return frame if self._ebtables(nf, "OUTPUT", frame, None, out_port) else None
        if hook is Hook.BR_FORWARD:
            if not self._ebtables(nf, "FORWARD", frame, in_port, out_port):
                return None
            return self._br_forward(nf, ns, br, frame, out_port)
        return self._br_postrouting(nf, ns, br, frame)

    def _ebtables(self, nf: NfState, chain: str, frame: Frame, in_port: Port | None,
                  out_port: Port | None) -> bool:
        eb = nf.ebtables
        if eb is None:
            return True
        payload = frame.payload
        length = payload.length() if isinstance(payload, IPv4) else 28 if isinstance(
            payload, Arp) else 0
        view = EbFrame(frame.src, frame.dst, frame.ethertype,
                       in_port.dev.name if in_port is not None else None,
                       out_port.dev.name if out_port is not None else None, length,
                       *((payload.src, payload.dst, payload.proto)
                         if isinstance(payload, IPv4) else (None, None, None)))
        verdict, _ = eb.evaluate(chain, view)
        return verdict == "ACCEPT"

    @staticmethod
    def _call_iptables(ns: Namespace) -> bool:
        return ns.sysctl.get("net.bridge.bridge-nf-call-iptables", "1") != "0"

    def _br_prerouting(self, nf: NfState, ns: Namespace, br: BridgeState, frame: Frame,
                       in_port: Port | None) -> Frame | None:
        """br_nf_pre_routing: bridged IPv4 goes through iptables PREROUTING with the bridge as
        input device; a DNAT that changes the destination re-decides where the frame goes
        (br_nf_pre_routing_finish)."""
        packet = frame.payload
        if (frame.ethertype != ETH_P_IP or in_port is None or not isinstance(packet, IPv4)
                or not self._call_iptables(ns)):
            return frame
        work = packet.copy()
        brnf = BrNf(in_port.dev)
        work.brnf = brnf
        out = self._prerouting(nf, ns, work, br.dev, brnf)
        if out is None:
            return None
        if out.dst == packet.dst:
            return Frame(frame.dst, frame.src, ETH_P_IP, out)
        dst_mac = self._dnat_destination(ns, br, out, frame.src)
        return Frame(dst_mac, frame.src, ETH_P_IP, out) if dst_mac is not None else None

    def _dnat_destination(self, ns: Namespace, br: BridgeState, packet: IPv4,
                          src_mac: int) -> int | None:
        try:
            route = route_output(ns, packet.dst)
        except BackendError:
            return None
        if route.dev is not br.dev or route.local:
            return br.dev.mac  # routed: up to the bridge's own stack (PACKET_HOST)
        # bridged DNAT: the new destination is on this bridge; the frame is bridged to it,
        # which takes hairpin mode to go back out of the port it came in by. Without a
        # NUD_CONNECTED neighbour, the neighbour code sends it (resolving first) and
        # br_dev_xmit resumes the bridging (`bridged_dnat`).
        entry = ns.neigh.entries.get((br.dev, route.nexthop))
        if entry is not None and entry.mac is not None and entry.settle(
                self.world.clock.now()) in (NeighState.REACHABLE, NeighState.PERMANENT,
                                            NeighState.NOARP):
            return entry.mac
        brnf = packet.brnf
        assert isinstance(brnf, BrNf)
        brnf.dnat_src = src_mac
        neigh_output(self.world, ns, br.dev, route.nexthop, packet)
        return None

    def bridged_dnat(self, br: BridgeState, frame: Frame) -> tuple[Port, Frame] | None:
        packet = frame.payload
        if not isinstance(packet, IPv4):
            return None
        brnf = packet.brnf
        if not isinstance(brnf, BrNf) or brnf.dnat_src is None:
            return None
        port = brnf.physin.port
        if port is None or port.br is not br:
            return None
        src, brnf.dnat_src = brnf.dnat_src, None
        return port, Frame(frame.dst, src, ETH_P_IP, packet)

    def _br_forward(self, nf: NfState, ns: Namespace, br: BridgeState, frame: Frame,
                    out_port: Port | None) -> Frame | None:
        packet = frame.payload
        if not isinstance(packet, IPv4) or out_port is None:
            return frame
        brnf = brnf_of(packet, ns)
        if brnf is None:
            return frame
        work = packet.copy()
        bridged = work.brnf = BrNf(brnf.physin, out_port.dev)
        out = self._forward(nf, ns, work, br.dev, br.dev, bridged)
        return Frame(frame.dst, frame.src, ETH_P_IP, out) if out is not None else None

    def _br_postrouting(self, nf: NfState, ns: Namespace, br: BridgeState,
                        frame: Frame) -> Frame | None:
        packet = frame.payload
        if not isinstance(packet, IPv4):
            return frame
        brnf = brnf_of(packet, ns)
        if brnf is None or brnf.physout is None:
            return frame  # only bridged frames: routed ones had POSTROUTING in ip_output
        out = self._postrouting(nf, ns, packet, br.dev, brnf)
        if out is None:
            return None
        return frame if out is packet else Frame(frame.dst, frame.src, ETH_P_IP, out)
