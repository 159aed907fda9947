"""One rtnetlink channel per namespace, and the requests the kernel backend sends on it.

Requests are built as raw netlink messages, the way iproute2 builds them, rather than through
pyroute2's keyword API: that API drops empty strings and silently ignores misspelled keywords,
so what reached the kernel would not be what the caller asked for. pyroute2 still encodes,
decodes and turns NLMSG_ERROR into NetlinkError (with the kernel's extended-ack text).
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from pyroute2.netlink import (
    NETLINK_ROUTE,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_DUMP,
    NLM_F_EXCL,
    NLM_F_MULTI,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import (
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELNEIGH,
    RTM_DELROUTE,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTM_GETNSID,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWNSID,
    RTM_NEWROUTE,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

Message = Any  # a decoded pyroute2 nlmsg

AF_BRIDGE = 7
IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # what `ip route add` stamps on routes it adds
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_NOWHERE = 255  # on delete: "any scope", as `ip route del` sends
RTN_UNICAST = 1
NUD_NOARP = 0x40
NTF_SELF = 0x02
NTF_MASTER = 0x04
_SOL_NETLINK = 270
_NETLINK_EXT_ACK = 11  # the kernel explains its refusals ("Nexthop has invalid gateway")
_BUFFER = 1 << 20  # a dump datagram is at most a few pages; the receive buffer holds many


class Channel:
    """An rtnetlink socket bound to the namespace it was created in (create it while the
    calling thread is inside that namespace: a netlink socket belongs to its creator's netns).

    Requests go out and answers come back synchronously on the socket itself; pyroute2's
    event-loop machinery would cost more per request than the kernel's work."""

    def __init__(self) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                             NETLINK_ROUTE)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
            sock.setsockopt(_SOL_NETLINK, _NETLINK_EXT_ACK, 1)
            sock.bind((0, 0))  # no multicast groups: no event backlog piles up unread
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._marshal = MarshalRtnl()
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def _exchange(self, msg: Message, msg_type: int, flags: int) -> tuple[Message, ...]:
        self._seq += 1
        seq = self._seq
        msg["header"]["type"] = msg_type
        msg["header"]["flags"] = flags
        msg["header"]["sequence_number"] = seq
        msg["header"]["pid"] = 0
        msg.encode()
        self._sock.send(msg.data)
        answers: list[Message] = []
        while True:
            for reply in self._marshal.parse(self._sock.recv(_BUFFER)):
                header = reply["header"]
                if header["sequence_number"] != seq:
                    continue  # the tail of a request interrupted earlier (Ctrl-C)
                error = header.get("error")
                if isinstance(error, (NetlinkError, OSError)):
                    raise error
                if header["type"] in (NLMSG_DONE, NLMSG_ERROR):  # end of dump, or the ack
                    return tuple(answers)
                answers.append(reply)
                if not header["flags"] & NLM_F_MULTI:  # a lone answer to a get
                    return tuple(answers)

    def request(self, msg: Message, msg_type: int, flags: int = 0) -> tuple[Message, ...]:
        """Send one request and wait for the kernel's acknowledgement (NetlinkError on refusal)."""
        return self._exchange(msg, msg_type, NLM_F_REQUEST | NLM_F_ACK | flags)

    def get(self, msg: Message, msg_type: int) -> Message:
        """A single-object query (RTM_GET* without DUMP): the object the kernel answers with."""
        return self._exchange(msg, msg_type, NLM_F_REQUEST)[0]

    def dump(self, msg: Message, msg_type: int) -> tuple[Message, ...]:
        return self._exchange(msg, msg_type, NLM_F_REQUEST | NLM_F_DUMP)

    # -- links ----------------------------------------------------------------------------
    def link_get(self, name: str) -> Message:
        """One device by name. Unlike a dump, a single RTM_GETLINK first runs the device's
        pending linkwatch event (rtnl_getlink -> linkwatch_sync_dev), so its operstate and
        carrier are settled rather than up to a second stale."""
        return self.get(link_msg(name), RTM_GETLINK)

    def link_get_index(self, index: int) -> Message:
        return self.get(link_msg(index=index), RTM_GETLINK)

    def link_index(self, name: str) -> int:
        return int(self.link_get(name)["index"])

    def links(self) -> tuple[Message, ...]:
        return self.dump(ifinfmsg(), RTM_GETLINK)

    def link_new(self, msg: Message) -> None:
        self.request(msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)

    def link_change(self, msg: Message) -> None:
        self.request(msg, RTM_NEWLINK)

    def link_delete(self, msg: Message) -> None:
        self.request(msg, RTM_DELLINK)

    # -- addresses, routes, neighbours ------------------------------------------------------
    def addresses(self) -> tuple[Message, ...]:
        msg = ifaddrmsg()
        msg["family"] = socket.AF_INET
        return self.dump(msg, RTM_GETADDR)

    def address_add(self, msg: Message) -> None:
        self.request(msg, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)

    def address_delete(self, msg: Message) -> None:
        self.request(msg, RTM_DELADDR)

    def routes(self) -> tuple[Message, ...]:
        msg = rtmsg()
        msg["family"] = socket.AF_INET
        return self.dump(msg, RTM_GETROUTE)

    def route_add(self, msg: Message) -> None:
        self.request(msg, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)

    def route_delete(self, msg: Message) -> None:
        self.request(msg, RTM_DELROUTE)

    def route_get(self, dst: str) -> Message:
        msg = rtmsg()
        msg["family"] = socket.AF_INET
        msg["dst_len"] = 32
        msg["attrs"] = [("RTA_DST", dst)]
        return self.get(msg, RTM_GETROUTE)

    def neighbours(self, family: int) -> tuple[Message, ...]:
        msg = ndmsg()
        msg["family"] = family
        return self.dump(msg, RTM_GETNEIGH)

    def neighbour_add(self, msg: Message) -> None:
        self.request(msg, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL)

    def neighbour_delete(self, msg: Message) -> None:
        self.request(msg, RTM_DELNEIGH)

    def nsid_assign(self, netns_fd: int) -> None:
        """Have this namespace number the namespace open on `netns_fd` now (`ip netns set
        NAME auto`); the kernel would otherwise do it lazily, at the first link dump."""
        msg = nsidmsg()
        msg["attrs"] = [("NETNSA_NSID", 0xFFFFFFFF), ("NETNSA_FD", netns_fd)]  # -1: any id
        try:
            self.request(msg, RTM_NEWNSID)
        except NetlinkError as err:
            if err.code != errno.EEXIST:  # numbered already
                raise

    def nsid_of(self, netns_fd: int) -> int:
        """The id this namespace gives the namespace open on `netns_fd` (-1: none assigned)."""
        msg = nsidmsg()
        msg["attrs"] = [("NETNSA_FD", netns_fd)]
        reply = self.get(msg, RTM_GETNSID)
        nsid = reply.get_attr("NETNSA_NSID")
        if nsid is None or nsid >= 0x80000000:
            return -1
        return int(nsid)


def link_msg(name: str | None = None, index: int = 0, attrs: list[Any] | None = None) -> Message:
    """An ifinfmsg naming a device by name (the kernel looks it up) or by index."""
    msg = ifinfmsg()
    msg["index"] = index
    msg["attrs"] = ([("IFLA_IFNAME", name)] if name is not None else []) + (attrs or [])
    return msg


def linkinfo(kind: str, data: list[Any] | None = None) -> tuple[str, Any]:
    attrs: list[Any] = [("IFLA_INFO_KIND", kind)]
    if data:
        attrs.append(("IFLA_INFO_DATA", {"attrs": data}))
    return ("IFLA_LINKINFO", {"attrs": attrs})


def port_info(data: list[Any]) -> tuple[str, Any]:
    """Per-port bridge options (`ip link set DEV type bridge_slave ...`)."""
    return (
        "IFLA_LINKINFO",
        {"attrs": [("IFLA_INFO_SLAVE_KIND", "bridge"), ("IFLA_INFO_SLAVE_DATA", {"attrs": data})]},
    )


def addr_msg(index: int, ip: str, prefixlen: int) -> Message:
    """What `ip addr add|del IP/LEN dev DEV` sends: IFA_LOCAL and IFA_ADDRESS both the address."""
    msg = ifaddrmsg()
    msg["family"] = socket.AF_INET
    msg["prefixlen"] = prefixlen
    msg["index"] = index
    msg["attrs"] = [("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)]
    return msg


def route_msg(
    dst: str,
    dst_len: int,
    *,
    gateway: str | None,
    oif: int | None,
    metric: int | None,
    adding: bool,
) -> Message:
    """What `ip route add|del` sends for a main-table IPv4 route."""
    msg = rtmsg()
    msg["family"] = socket.AF_INET
    msg["dst_len"] = dst_len
    msg["table"] = RT_TABLE_MAIN
    if adding:
        msg["proto"] = RTPROT_BOOT
        msg["type"] = RTN_UNICAST
        # iproute2: a route with no gateway is a link-scope route (the destination is on-link).
        msg["scope"] = RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK
    else:
        msg["scope"] = RT_SCOPE_NOWHERE
    attrs: list[Any] = [("RTA_TABLE", RT_TABLE_MAIN)]
    if dst_len:
        attrs.append(("RTA_DST", dst))
    if gateway:
        attrs.append(("RTA_GATEWAY", gateway))
    if oif is not None:
        attrs.append(("RTA_OIF", oif))
    if metric is not None:
        attrs.append(("RTA_PRIORITY", metric))
    msg["attrs"] = attrs
    return msg


def fdb_msg(port_index: int, mac: str) -> Message:
    """What `bridge fdb add|del MAC dev PORT master static` sends."""
    msg = ndmsg()
    msg["family"] = AF_BRIDGE
    msg["ifindex"] = port_index
    msg["state"] = NUD_NOARP
    msg["flags"] = NTF_MASTER
    msg["attrs"] = [("NDA_LLADDR", mac)]
    return msg


def neigh_delete_msg(ifindex: int, ip: str) -> Message:
    msg = ndmsg()
    msg["family"] = socket.AF_INET
    msg["ifindex"] = ifindex
    msg["attrs"] = [("NDA_DST", ip)]
    return msg
