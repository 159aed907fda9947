"""Netfilter hook points of the simulated packet path, named after the kernel's.

Layering: just above the data (`devices.py`, `packet.py`), below the world and every protocol
handler. The IPv4 stack calls PREROUTING, INPUT, FORWARD, OUTPUT and POSTROUTING where ip_rcv,
ip_local_deliver, ip_forward, __ip_local_out and ip_output do; the bridge calls the NF_BR_*
hooks where br_handle_frame / br_forward / br_dev_xmit do (br_netfilter hands bridged IPv4 to
iptables from there). `Hooks` accepts everything; `netfilter.Netfilter` implements it with
iptables, conntrack, NAT and ebtables, and registers itself (`world.nf_register_hooks`).

The other hook points, where handlers register as in the kernel so that nothing below them
imports them: `world.dev_add_pack` (an ethertype's handler: ipv4.py, neighbour.py),
`world.netdev_rx_handler_register` and `world.register_br_dev_xmit` (bridge.py), and
`ipv4.inet_add_protocol` (local delivery and ICMP errors of an IP protocol: ICMP in ipv4.py,
TCP and UDP in sockets.py). `stack.py` imports them all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctrnet.backends.sim.devices import BridgeState, Device, Namespace, Port
    from ctrnet.backends.sim.packet import Frame, IPv4


class Hook(StrEnum):
    PREROUTING = "PREROUTING"
    INPUT = "INPUT"
    FORWARD = "FORWARD"
    OUTPUT = "OUTPUT"
    POSTROUTING = "POSTROUTING"
    BR_PREROUTING = "BR_PREROUTING"
    BR_LOCAL_IN = "BR_LOCAL_IN"
    BR_FORWARD = "BR_FORWARD"
    BR_LOCAL_OUT = "BR_LOCAL_OUT"
    BR_POSTROUTING = "BR_POSTROUTING"


class Hooks:
    """The verdict points: each returns what continues (the packet, possibly rewritten by
    NAT), or None when the packet is dropped (NF_DROP / NF_STOLEN)."""

    __slots__ = ()

    def run(self, hook: Hook, ns: Namespace, packet: IPv4, indev: Device | None,
            outdev: Device | None) -> IPv4 | None:
        """An IPv4 hook (PREROUTING … POSTROUTING) of namespace `ns`."""
        return packet

    def bridge(self, hook: Hook, br: BridgeState, frame: Frame, in_port: Port | None,
               out_port: Port | None) -> Frame | None:
        """A bridge hook (BR_*) of bridge `br`, for any frame (ARP too)."""
        return frame

    def bridged_dnat(self, br: BridgeState, frame: Frame) -> tuple[Port, Frame] | None:
        """For a frame the bridge device is asked to send: the port and frame to go on
        bridging with, when br_netfilter parked it for neighbour resolution."""
        return None
