"""Read the kernel's netlink answers as ctrnet observation types.

Pure functions from decoded pyroute2 messages to `ctrnet.types`: links (kind, operstate,
carrier, master, bridge and port attributes), IPv4 addresses, main-table routes, route
decisions, ARP neighbours and bridge FDB entries. Resolving a veth peer in another namespace
needs the world's namespaces, so the backend passes the peer in.
"""

from __future__ import annotations

import socket
from typing import Any

from ctrnet.types import (
    Address,
    BridgeInfo,
    FdbEntry,
    Link,
    LinkKind,
    NeighState,
    OperState,
    PortInfo,
    PortState,
    Route,
    RouteDecision,
)

from .rtnl import NTF_SELF, RT_TABLE_MAIN, Message

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
#: The kernel keeps bridge timers in clock_t (USER_HZ = 100 per second) on netlink.
USER_HZ = 100

_KINDS = {"veth": LinkKind.VETH, "bridge": LinkKind.BRIDGE}
_SCOPES = {0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_PROTOS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static"}
_ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast"}
#: NUD_* bits, include/uapi/linux/neighbour.h; NUD_NONE (0) entries are not reported.
_NUD = [
    (0x80, NeighState.PERMANENT),
    (0x40, NeighState.NOARP),
    (0x02, NeighState.REACHABLE),
    (0x04, NeighState.STALE),
    (0x08, NeighState.DELAY),
    (0x10, NeighState.PROBE),
    (0x20, NeighState.FAILED),
    (0x01, NeighState.INCOMPLETE),
]
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40


def _nested(msg: Message, *path: str) -> Any:
    node = msg
    for name in path:
        if node is None:
            return None
        node = node.get_attr(name)
    return node


def link_kind(msg: Message) -> LinkKind:
    kind = _nested(msg, "IFLA_LINKINFO", "IFLA_INFO_KIND")
    if kind in _KINDS:
        return _KINDS[kind]
    if int(msg["flags"]) & IFF_LOOPBACK:
        return LinkKind.LOOPBACK
    return LinkKind.OTHER


def veth_peer_ref(msg: Message) -> tuple[int, int | None] | None:
    """(peer ifindex, peer netnsid or None when the peer shares the namespace) of a veth."""
    if link_kind(msg) is not LinkKind.VETH:
        return None
    peer_index = msg.get_attr("IFLA_LINK")
    if not peer_index:
        return None
    return int(peer_index), msg.get_attr("IFLA_LINK_NETNSID")


def _operstate(value: Any) -> OperState:
    try:
        return OperState(str(value))
    except ValueError:
        # NOTPRESENT, TESTING, DORMANT: none of our devices reports them.
        return OperState.UNKNOWN


def _bridge_info(msg: Message) -> BridgeInfo | None:
    data = _nested(msg, "IFLA_LINKINFO", "IFLA_INFO_DATA")
    if data is None:
        return None
    return BridgeInfo(
        stp_state=int(data.get_attr("IFLA_BR_STP_STATE")),
        forward_delay=int(data.get_attr("IFLA_BR_FORWARD_DELAY")) / USER_HZ,
        ageing_time=int(data.get_attr("IFLA_BR_AGEING_TIME")) / USER_HZ,
    )


def _port_info(msg: Message) -> PortInfo | None:
    if _nested(msg, "IFLA_LINKINFO", "IFLA_INFO_SLAVE_KIND") != "bridge":
        return None
    data = _nested(msg, "IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA")
    return PortInfo(
        state=PortState(int(data.get_attr("IFLA_BRPORT_STATE"))),
        hairpin=bool(data.get_attr("IFLA_BRPORT_MODE")),
        learning=bool(data.get_attr("IFLA_BRPORT_LEARNING")),
    )


def link(
    ns: str,
    msg: Message,
    names: dict[int, str],
    peer: tuple[str | None, str | None] = (None, None),
) -> Link:
    """A Link from an RTM_NEWLINK message; `names` maps this namespace's ifindexes to names."""
    kind = link_kind(msg)
    master_index = msg.get_attr("IFLA_MASTER")
    return Link(
        ns=ns,
        name=str(msg.get_attr("IFLA_IFNAME")),
        index=int(msg["index"]),
        kind=kind,
        mac=str(msg.get_attr("IFLA_ADDRESS") or "00:00:00:00:00:00").lower(),
        mtu=int(msg.get_attr("IFLA_MTU")),
        up=bool(int(msg["flags"]) & IFF_UP),
        operstate=_operstate(msg.get_attr("IFLA_OPERSTATE")),
        carrier=bool(msg.get_attr("IFLA_CARRIER")),
        master=names.get(int(master_index)) if master_index else None,
        peer=peer[0],
        peer_ns=peer[1],
        bridge=_bridge_info(msg) if kind is LinkKind.BRIDGE else None,
        port=_port_info(msg),
    )


def address(ns: str, msg: Message, names: dict[int, str]) -> Address:
    ip = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    return Address(ns=ns, ifname=names.get(int(msg["index"]), ""), ip=str(ip),
                   prefixlen=int(msg["prefixlen"]))


def is_main_table(msg: Message) -> bool:
    table = msg.get_attr("RTA_TABLE") or msg["table"]
    return int(msg["family"]) == socket.AF_INET and int(table) == RT_TABLE_MAIN


def route(ns: str, msg: Message, names: dict[int, str]) -> Route:
    dst_len = int(msg["dst_len"])
    dst = "default" if dst_len == 0 else f"{msg.get_attr('RTA_DST')}/{dst_len}"
    oif = msg.get_attr("RTA_OIF")
    proto = int(msg["proto"])
    return Route(
        ns=ns,
        dst=dst,
        dev=names.get(int(oif), "") if oif else "",
        gateway=msg.get_attr("RTA_GATEWAY"),
        prefsrc=msg.get_attr("RTA_PREFSRC"),
        scope=_SCOPES.get(int(msg["scope"]), str(msg["scope"])),
        proto=_PROTOS.get(proto, str(proto)),
        metric=int(msg.get_attr("RTA_PRIORITY") or 0),
    )


def route_decision(dst: str, msg: Message, names: dict[int, str]) -> RouteDecision:
    oif = msg.get_attr("RTA_OIF")
    rtype = int(msg["type"])
    return RouteDecision(
        dst=dst,
        type=_ROUTE_TYPES.get(rtype, str(rtype)),
        dev=names.get(int(oif), "") if oif else "",
        gateway=msg.get_attr("RTA_GATEWAY"),
        prefsrc=msg.get_attr("RTA_PREFSRC"),
    )


def neigh_state(state: int) -> NeighState | None:
    for bit, name in _NUD:
        if state & bit:
            return name
    return None


def fdb_entry(ns: str, msg: Message, names: dict[int, str]) -> FdbEntry | None:
    """An entry of the bridge's FDB, or None for a device's own ("self") entry.

    The kernel marks bridge entries with NDA_MASTER (not with NTF_MASTER, which it leaves
    clear in dumps) and a device's own unicast/multicast list with NTF_SELF."""
    master = msg.get_attr("NDA_MASTER")
    if not master or int(msg["flags"]) & NTF_SELF:
        return None
    state = int(msg["state"])
    return FdbEntry(
        ns=ns,
        bridge=names.get(int(master), ""),
        port=names.get(int(msg["ifindex"]), ""),
        mac=str(msg.get_attr("NDA_LLADDR")).lower(),
        local=bool(state & NUD_PERMANENT),
        static=bool(state & NUD_NOARP) and not state & NUD_PERMANENT,
    )
