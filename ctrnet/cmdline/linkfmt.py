"""How iproute2 6.1 prints a link: the `N: name@peer: <FLAGS> mtu … state …` line, the
`link/ether …` line, `-d` details, `-br` and `-j` forms. Shared by `ip link`, `ip addr` and
`bridge link`, which all print links the way ipaddress.c's print_linkinfo() does.
"""

from __future__ import annotations

from typing import Any

from ctrnet.backend import Backend
from ctrnet.errors import NotFound
from ctrnet.types import Link, LinkKind, OperState

#: Every device iproute2 shows here has the default transmit queue length of 1000.
TXQLEN = 1000


class LinkTable:
    """The links of one namespace, with what printing them needs from their veth peers:
    the peer's ifindex (`@ifN`), whether a same-namespace peer is down (M-DOWN), and the
    netnsid under which this namespace knows the peer's namespace."""

    def __init__(self, backend: Backend, ns: str) -> None:
        self.backend = backend
        self.ns = ns
        self.links = backend.link_list(ns)
        self.by_name = {link.name: link for link in self.links}
        self.by_index = {link.index: link for link in self.links}
        # The kernel hands out netnsids on first reference; a stable stand-in is the order in
        # which this namespace's links first point at another namespace.
        self.nsids: dict[str, int] = {}
        for link in self.links:
            other = self.peer_ns(link)
            if other is not None and other != ns and other not in self.nsids:
                self.nsids[other] = len(self.nsids)

    def get(self, name: str) -> Link | None:
        return self.by_name.get(name)

    def peer_ns(self, link: Link) -> str | None:
        if link.peer is None:
            return None
        return link.peer_ns or self.ns

    def peer_link(self, link: Link) -> Link | None:
        ns = self.peer_ns(link)
        if ns is None or link.peer is None:
            return None
        if ns == self.ns:
            return self.by_name.get(link.peer)
        try:
            return self.backend.link_get(ns, link.peer)
        except NotFound:
            return None

    def is_remote_peer(self, link: Link) -> bool:
        ns = self.peer_ns(link)
        return ns is not None and ns != self.ns

    def display_name(self, link: Link) -> str:
        """`veth0@veth1` for a same-namespace peer, `veth0@ifN` for a peer elsewhere."""
        peer = self.peer_link(link)
        if link.peer is None:
            return link.name
        if self.is_remote_peer(link):
            return f"{link.name}@if{peer.index if peer else 0}"
        return f"{link.name}@{link.peer}"

    def netns_words(self, link: Link) -> str:
        """` link-netns NAME`, or ` link-netnsid N` when the peer's namespace has no name (the
        host namespace plays the unnamed root namespace), or "" for a local peer."""
        if not self.is_remote_peer(link):
            return ""
        peer_ns = self.peer_ns(link)
        assert peer_ns is not None
        if peer_ns == self.backend.host_ns:
            return f" link-netnsid {self.nsids[peer_ns]}"
        return f" link-netns {peer_ns}"

    def flags(self, link: Link) -> list[str]:
        """IFF_* flag names in print_link_flags() order; LOWER_UP is IFF_UP plus carrier."""
        flags: list[str] = []
        if link.up and not link.carrier:
            flags.append("NO-CARRIER")
        flags += ["LOOPBACK"] if link.kind is LinkKind.LOOPBACK else ["BROADCAST", "MULTICAST"]
        if link.up:
            flags.append("UP")
            if link.carrier:
                flags.append("LOWER_UP")
        # M-DOWN: iproute2 looks up IFLA_LINK in the local namespace, so only a peer in the
        # same namespace that is administratively down shows it.
        if link.peer is not None and not self.is_remote_peer(link):
            peer = self.peer_link(link)
            if peer is not None and not peer.up:
                flags.append("M-DOWN")
        return flags

    def header(self, link: Link, *, mode: bool) -> str:
        """First line without its newline: `2: br0: <…> mtu 1500 qdisc … state UP …`."""
        qdisc = "noqueue" if link.up else "noop"
        master = f" master {link.master}" if link.master else ""
        mode_words = " mode DEFAULT" if mode else ""
        return (
            f"{link.index}: {self.display_name(link)}: <{','.join(self.flags(link))}> "
            f"mtu {link.mtu} qdisc {qdisc}{master} state {link.operstate.value}{mode_words} "
            f"group default qlen {TXQLEN}"
        )

    def l2_line(self, link: Link) -> str:
        """`    link/ether MAC brd ff:ff:ff:ff:ff:ff [link-netns NS]` without newline."""
        return f"    {l2_words(link)}{self.netns_words(link)}"

    def json_base(self, link: Link, *, mode: bool, l2: bool = True) -> dict[str, Any]:
        """The keys iproute2 -j prints for a link, in its order."""
        entry: dict[str, Any] = {"ifindex": link.index}
        if link.peer is not None:
            if self.is_remote_peer(link):
                peer = self.peer_link(link)
                entry["link_index"] = peer.index if peer else 0
            else:
                entry["link"] = link.peer
        entry["ifname"] = link.name
        entry["flags"] = self.flags(link)
        entry["mtu"] = link.mtu
        entry["qdisc"] = "noqueue" if link.up else "noop"
        if link.master:
            entry["master"] = link.master
        entry["operstate"] = link.operstate.value
        if mode:
            entry["linkmode"] = "DEFAULT"
        entry["group"] = "default"
        entry["txqlen"] = TXQLEN
        if l2:
            loop = link.kind is LinkKind.LOOPBACK
            entry["link_type"] = "loopback" if loop else "ether"
            entry["address"] = link.mac
            entry["broadcast"] = "00:00:00:00:00:00" if loop else "ff:ff:ff:ff:ff:ff"
        if self.is_remote_peer(link):
            peer_ns = self.peer_ns(link)
            assert peer_ns is not None
            entry["link_netnsid"] = self.nsids[peer_ns]
        return entry


def l2_words(link: Link) -> str:
    if link.kind is LinkKind.LOOPBACK:
        return f"link/loopback {link.mac} brd 00:00:00:00:00:00"
    return f"link/ether {link.mac} brd ff:ff:ff:ff:ff:ff"


def brief_state(link: Link) -> str:
    return link.operstate.value if isinstance(link.operstate, OperState) else str(link.operstate)


def _centisecs(seconds: float) -> int:
    """The bridge keeps times in clock_t; iproute2 prints them as centiseconds."""
    return round(seconds * 100)


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def details_text(link: Link) -> str:
    """What `-d` adds after the link/ether line (a subset of iproute2's, same words)."""
    loop = link.kind is LinkKind.LOOPBACK
    promisc = 1 if link.port is not None else 0
    text = f" promiscuity {promisc}  allmulti {promisc} "
    text += "minmtu 0 maxmtu 0 " if loop else "minmtu 68 maxmtu 65535 "
    if link.kind is LinkKind.VETH:
        text += "\n    veth "
    if link.bridge is not None:
        b = link.bridge
        text += (
            f"\n    bridge forward_delay {_centisecs(b.forward_delay)} hello_time 200 "
            f"max_age 2000 ageing_time {_centisecs(b.ageing_time)} stp_state {b.stp_state} "
            "priority 32768 vlan_filtering 0 "
        )
    if link.port is not None:
        p = link.port
        text += (
            f"\n    bridge_slave state {p.state.name.lower()} priority 32 cost 2 "
            f"hairpin {_onoff(p.hairpin)} guard off root_block off fastleave off "
            f"learning {_onoff(p.learning)} flood on "
        )
    return text


def details_json(link: Link) -> dict[str, Any]:
    loop = link.kind is LinkKind.LOOPBACK
    promisc = 1 if link.port is not None else 0
    entry: dict[str, Any] = {
        "promiscuity": promisc,
        "allmulti": promisc,
        "min_mtu": 0 if loop else 68,
        "max_mtu": 0 if loop else 65535,
    }
    info: dict[str, Any] = {}
    if link.kind in (LinkKind.VETH, LinkKind.BRIDGE):
        info["info_kind"] = link.kind.value
    if link.bridge is not None:
        b = link.bridge
        info["info_data"] = {
            "forward_delay": _centisecs(b.forward_delay),
            "hello_time": 200,
            "max_age": 2000,
            "ageing_time": _centisecs(b.ageing_time),
            "stp_state": b.stp_state,
            "priority": 32768,
            "vlan_filtering": 0,
        }
    if link.port is not None:
        p = link.port
        info["info_slave_kind"] = "bridge"
        info["info_slave_data"] = {
            "state": p.state.name.lower(),
            "priority": 32,
            "cost": 2,
            "hairpin": p.hairpin,
            "guard": False,
            "root_block": False,
            "fastleave": False,
            "learning": p.learning,
            "flood": True,
        }
    if info:
        entry["linkinfo"] = info
    return entry
