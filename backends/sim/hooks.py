"""Netfilter hook points of the simulated packet path, named after the kernel's.

The IPv4 stack calls PREROUTING, INPUT, FORWARD, OUTPUT and POSTROUTING where ip_rcv,
ip_local_deliver, ip_forward, __ip_local_out and ip_output do; the bridge calls the
NF_BR_* hooks where br_handle_frame / br_forward / br_dev_xmit do (br_netfilter hands
bridged IPv4 to iptables from there). Every hook accepts for now: iptables and conntrack
evaluation plug in by replacing `Hooks.run`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctrnet.backends.sim.devices import Device
    from ctrnet.backends.sim.packet import Frame, IPv4
    from ctrnet.backends.sim.world import Namespace


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
    """The verdict point. `run` returns True to let the packet continue (NF_ACCEPT)."""

    __slots__ = ()

    def run(
        self,
        hook: Hook,
        ns: Namespace,
        packet: IPv4 | Frame,
        indev: Device | None,
        outdev: Device | None,
    ) -> bool:
        return True
