"""Simulated net devices: loopback, veth pairs and bridges, plus bridge-port attributes.

Devices are plain slotted records; behaviour that needs the whole world (delivery, bridge
forwarding, routing) lives in the modules named after it. Operational state and carrier are
derived on demand from admin state, like the kernel's linkwatch would settle them.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ctrnet.errors import from_errno
from ctrnet.types import LinkKind, OperState

if TYPE_CHECKING:
    from ctrnet.backends.sim.bridge import BridgeState, Port
    from ctrnet.backends.sim.tc import Tbf
    from ctrnet.backends.sim.world import Namespace

IFNAMSIZ = 16
ETH_MIN_MTU = 68
ETH_MAX_MTU = 65535


def check_ifname(name: str) -> None:
    """Reject names as the kernel's dev_valid_name does, with netlink's errnos.

    IFLA_IFNAME longer than IFNAMSIZ-1 fails the attribute policy (ERANGE); an empty name,
    "." / "..", or one containing '/', ':' or whitespace fails dev_valid_name (EINVAL).
    """
    if len(name.encode()) > IFNAMSIZ - 1:
        raise from_errno(errno.ERANGE, f"interface name {name!r} longer than 15 bytes")
    if not name or name in (".", "..") or any(c == "/" or c == ":" or c.isspace() for c in name):
        raise from_errno(errno.EINVAL, f"invalid interface name {name!r}")


class Device:
    __slots__ = ("ns", "name", "index", "mac", "mtu", "up", "port", "addrs", "qdisc",
                 "__weakref__")

    kind: LinkKind = LinkKind.OTHER

    def __init__(self, ns: Namespace, name: str, index: int, mac: int, mtu: int = 1500) -> None:
        self.ns = ns
        self.name = name
        self.index = index
        self.mac = mac
        self.mtu = mtu
        self.up = False
        self.port: Port | None = None  # set while enslaved to a bridge
        self.addrs: list[tuple[int, int]] = []  # (ip, prefixlen), in order added
        self.qdisc: Tbf | None = None  # root qdisc set by the user; None: the default one

    def carrier(self) -> bool:
        return True

    def oper_up(self) -> bool:
        """netif_oper_up(): what a bridge asks before enabling this device as a port."""
        return self.up and self.carrier()

    def operstate(self) -> OperState:
        if not self.up:
            return OperState.DOWN
        return OperState.UP if self.carrier() else OperState.DOWN

    def mtu_range(self) -> tuple[int, int]:
        return ETH_MIN_MTU, ETH_MAX_MTU


class Loopback(Device):
    __slots__ = ()
    kind = LinkKind.LOOPBACK

    def operstate(self) -> OperState:
        # The loopback driver never reports a carrier change, so linkwatch leaves it UNKNOWN.
        return OperState.UNKNOWN if self.up else OperState.DOWN

    def mtu_range(self) -> tuple[int, int]:
        return 0, 2**31 - 1


class Veth(Device):
    __slots__ = ("peer", "settled")
    kind = LinkKind.VETH

    def __init__(self, ns: Namespace, name: str, index: int, mac: int, mtu: int = 1500) -> None:
        super().__init__(ns, name, index, mac, mtu)
        self.peer: Veth = self  # replaced right after the pair is made
        # The operstate linkwatch settled on when this end lost its carrier, where the lazy
        # computation would now answer differently (the peer has since left the namespace).
        self.settled: OperState | None = None

    def carrier(self) -> bool:
        # veth_open/veth_close: carrier on both ends only while both are up.
        return self.up and self.peer.up

    def operstate(self) -> OperState:
        if not self.up:
            return OperState.DOWN
        if self.peer.up:
            return OperState.UP
        if self.settled is not None:
            return self.settled
        # default_operstate (net/core/link_watch.c, since 6.6): without carrier, look the
        # iflink (the peer's ifindex) up in *this* namespace; LOWERLAYERDOWN only if that
        # finds a device without carrier. A peer in another namespace is usually not found
        # (or is an unrelated device with the same index): DOWN.
        iflink = self.peer.index
        if iflink == self.index:
            return OperState.DOWN
        found = self.ns.by_index.get(iflink)
        if found is None or found.carrier():
            return OperState.DOWN
        return OperState.LOWERLAYERDOWN


class Bridge(Device):
    __slots__ = ("br",)
    kind = LinkKind.BRIDGE

    def __init__(self, ns: Namespace, name: str, index: int, mac: int, br: BridgeState) -> None:
        super().__init__(ns, name, index, mac)
        self.br = br

    def carrier(self) -> bool:
        return self.br.carrier()

    def operstate(self) -> OperState:
        if not self.up:
            return OperState.DOWN
        if not self.br.had_port:
            # A bridge that never had a port keeps the carrier it was born with and never
            # saw a carrier event: linkwatch leaves it UNKNOWN (seen on 6.18).
            return OperState.UNKNOWN
        return OperState.UP if self.carrier() else OperState.DOWN
