"""The doctor's checks, one function each, in the order a packet meets the problems: the
container's own namespace (lo, its interface, routes, resolv.conf), the veth and bridge,
then the host's forwarding, filtering and NAT. Each explains in a sentence and names the
command that fixes it, typed from the host's shell.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING

from ctrnet.errors import CtrnetError
from ctrnet.troubleshoot.doctor import Severity
from ctrnet.types import LinkKind, PortState

if TYPE_CHECKING:
    from ctrnet.troubleshoot.doctor import Doctor

ERROR, WARNING = Severity.ERROR, Severity.WARNING


def check_lo_down(doc: Doctor) -> None:
    for _, c in doc.containers():
        lo = doc.link(c.ns, "lo")
        if lo is not None and not lo.up:
            doc.find("lo-down", WARNING, f"{c.ns} lo",
                     "the loopback device is down: programs in the container cannot reach "
                     "127.0.0.1, nor their own addresses",
                     doc_in(doc, c.ns, "ip link set lo up"))


def check_veth(doc: Doctor) -> None:
    """The container's interface: in the right namespace, up, its peer on the bridge."""
    for net, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        if here is None:
            elsewhere = _holder(doc, c.ifname, skip=c.ns)
            if elsewhere is not None:
                doc.find("veth-wrong-namespace", ERROR, f"{c.ns} {c.ifname}",
                         f"{c.ifname} is in namespace {elsewhere}, not in {c.ns}: commands "
                         f"run in {c.ns} do not see it",
                         doc_in(doc, elsewhere, f"ip link set {c.ifname} netns {c.ns}"))
            else:
                doc.find("veth-missing", ERROR, f"{c.ns} {c.ifname}",
                         f"{c.ifname} does not exist in {c.ns} (nor anywhere else)",
                         f"ctrnet connect {net.name if net else 'NETWORK'} {c.ns}")
            continue
        if not here.up:
            doc.find("veth-down", ERROR, f"{c.ns} {c.ifname}",
                     f"{c.ifname} is down: the container sends and receives nothing",
                     doc_in(doc, c.ns, f"ip link set {c.ifname} up"))
        if here.kind is LinkKind.VETH and here.peer_ns == c.ns:
            doc.find("veth-wrong-namespace", ERROR, f"{c.ns} {c.ifname}",
                     f"both ends of the veth pair ({c.ifname}, {here.peer}) are in {c.ns}: "
                     "the host end was never moved to the host",
                     doc_in(doc, c.ns, f"ip link set {here.peer} netns {doc.host}"))
        host_end = c.host_ifname or (here.peer if here.peer_ns == doc.host else None)
        if host_end is None:
            continue
        peer = doc.link(doc.host, host_end)
        if peer is None:
            holder = _holder(doc, host_end, skip=doc.host)
            if holder is not None and holder != c.ns:
                doc.find("veth-wrong-namespace", ERROR, f"{doc.host} {host_end}",
                         f"the host end {host_end} is in namespace {holder}, not in "
                         f"{doc.host}", doc_in(doc, holder,
                                               f"ip link set {host_end} netns {doc.host}"))
            continue
        if not peer.up:
            doc.find("veth-down", ERROR, f"{doc.host} {host_end}",
                     f"the host end {host_end} of {c.ns}'s veth is down: nothing crosses it",
                     f"ip link set {host_end} up")
        if net is not None and peer.master != net.bridge:
            now = f"enslaved to {peer.master}" if peer.master else "not enslaved to any bridge"
            doc.find("veth-not-enslaved", ERROR, f"{doc.host} {host_end}",
                     f"{host_end} is {now}: {c.ns}'s frames never reach bridge {net.bridge}",
                     f"ip link set {host_end} master {net.bridge}")


def check_addressing(doc: Doctor) -> None:
    """The container's address, and a default route whose gateway is on its segment."""
    for net, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        if here is None or not here.up:
            continue
        try:
            addrs = doc.backend.addr_list(c.ns, c.ifname)
            routes = doc.backend.route_list(c.ns)
        except CtrnetError:
            continue
        if not addrs:
            want = c.ip or "ADDRESS"
            plen = ipaddress.IPv4Network(net.subnet).prefixlen if net and net.subnet else 24
            doc.find("no-address", ERROR, f"{c.ns} {c.ifname}",
                     f"{c.ifname} has no IPv4 address: the container cannot send IP at all",
                     doc_in(doc, c.ns, f"ip addr add {want}/{plen} dev {c.ifname}"))
            continue
        if net is None or not net.gateway:
            continue
        for route in routes:
            if route.dst == "default" and route.gateway and route.gateway != net.gateway:
                doc.find("wrong-gateway", ERROR, c.ns,
                         f"the default route goes via {route.gateway}, but {net.name}'s "
                         f"gateway (the bridge's address) is {net.gateway}: packets for other "
                         "networks go to a neighbour that does not route them",
                         doc_in(doc, c.ns, f"ip route replace default via {net.gateway}"))


def check_mtu(doc: Doctor) -> None:
    """Both ends of a veth need the same MTU: the larger side's big packets are dropped."""
    for _, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        peer = doc.link(doc.host, c.host_ifname) if c.host_ifname else None
        if here is not None and peer is not None and here.mtu != peer.mtu:
            low = min(here.mtu, peer.mtu)
            doc.find("mtu-mismatch", WARNING, f"{c.ns} {c.ifname}",
                     f"MTU {here.mtu} in {c.ns} but {peer.mtu} on the host end "
                     f"{c.host_ifname}: packets larger than {low} bytes are dropped on the "
                     "way in, and only those: small pings work, bulk transfers stall",
                     doc_in(doc, c.ns, f"ip link set {c.ifname} mtu {low}")
                     if here.mtu > low else f"ip link set {c.host_ifname} mtu {low}")


def _holder(doc: Doctor, ifname: str, skip: str) -> str | None:
    for ns in [doc.host, *doc.backend.netns_list()]:
        if ns != skip and doc.link(ns, ifname) is not None:
            return ns
    return None


def check_default_route(doc: Doctor) -> None:
    for net, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        if here is None or not here.up:
            continue  # its routes went with it: the interface is the problem to report
        try:
            routes = doc.backend.route_list(c.ns)
        except CtrnetError:
            continue
        if any(r.dst == "default" for r in routes):
            continue
        gateway = net.gateway if net is not None and net.gateway else "GATEWAY"
        doc.find("no-default-route", WARNING, c.ns,
                 "no default route: the container reaches its own subnet only, nothing "
                 "beyond the bridge", doc_in(doc, c.ns, f"ip route add default via {gateway}"))


def check_resolv_conf(doc: Doctor) -> None:
    for _, c in doc.containers():
        kept, text = doc.etc_file(c.ns, "resolv.conf")
        if not kept:
            continue
        if text is None or "nameserver" not in text:
            doc.find("resolv-conf-missing", WARNING, c.ns,
                     f"no /etc/netns/{c.ns}/resolv.conf with a nameserver: names do not "
                     "resolve in the container (it falls back to the host's file, whose "
                     "servers it may not reach)",
                     f"mkdir -p /etc/netns/{c.ns} && echo 'nameserver 1.1.1.1' > "
                     f"/etc/netns/{c.ns}/resolv.conf")


def check_bridge(doc: Doctor) -> None:
    for net in doc.nets:
        br = doc.link(doc.host, net.bridge)
        if br is None:
            doc.find("bridge-missing", ERROR, net.bridge, f"bridge {net.bridge} of network "
                     f"{net.name} does not exist", f"ip link add {net.bridge} type bridge")
            continue
        if not br.up:
            doc.find("bridge-down", ERROR, f"{doc.host} {net.bridge}",
                     f"bridge {net.bridge} is down: it forwards nothing and its address "
                     "(the containers' gateway) is unreachable",
                     f"ip link set {net.bridge} up")
        if br.bridge is None or not br.bridge.stp_state:
            continue
        waiting = [lk for lk in doc.links(doc.host) if lk.master == net.bridge
                   and lk.port is not None and lk.port.state in (PortState.LISTENING,
                                                                 PortState.LEARNING)]
        if waiting:
            names = ", ".join(f"{lk.name} ({lk.port.state.name})" for lk in waiting
                              if lk.port is not None)
            delay = br.bridge.forward_delay
            doc.find("stp-ports-not-forwarding", WARNING, f"{doc.host} {net.bridge}",
                     f"STP is on and ports are not forwarding yet: {names}; a port waits "
                     f"2 x forward_delay ({2 * delay:g} s) in listening and learning first",
                     f"ip link set {net.bridge} type bridge stp_state 0")


def check_address_conflict(doc: Doctor) -> None:
    """The same address twice on one bridge's segment: ARP answers from both."""
    for net in doc.nets:
        holders: dict[str, list[str]] = {}
        members = [(doc.host, net.bridge)] + [(c.ns, c.ifname) for c in net.containers]
        for ns, ifname in members:
            try:
                addrs = doc.backend.addr_list(ns, ifname)
            except CtrnetError:
                continue
            for addr in addrs:
                holders.setdefault(addr.ip, []).append(f"{ns}/{ifname}")
        for ip, where in holders.items():
            if len(where) > 1:
                ns, _, ifname = where[-1].partition("/")
                plen = _prefixlen(doc, ns, ifname, ip)
                doc.find("address-conflict", ERROR, net.bridge,
                         f"{ip} is held by {' and '.join(where)} on the same bridge: ARP "
                         "answers from both and traffic goes to either",
                         doc_in(doc, ns, f"ip addr del {ip}/{plen} dev {ifname}"))


def _prefixlen(doc: Doctor, ns: str, ifname: str, ip: str) -> int:
    return next((a.prefixlen for a in doc.backend.addr_list(ns, ifname) if a.ip == ip), 32)


def check_ip_forward(doc: Doctor) -> None:
    if not any(net.containers for net in doc.nets):
        return
    if doc.sysctl(doc.host, "net.ipv4.ip_forward") == "0":
        doc.find("ip-forward-off", ERROR, doc.host,
                 "net.ipv4.ip_forward is 0: the host does not route, so containers reach "
                 "the bridge's address but nothing beyond it", "sysctl -w net.ipv4.ip_forward=1")


def check_forward_drop(doc: Doctor) -> None:
    """FORWARD policy DROP while br_netfilter hands bridged frames to iptables."""
    if doc.sysctl(doc.host, "net.bridge.bridge-nf-call-iptables") != "1":
        return
    filt = doc.rules("filter")
    if filt.policies.get("FORWARD") != "DROP":
        return
    reachable = filt.reachable("FORWARD")
    for net in doc.nets:
        if not net.containers:
            continue
        accepted = any(r.target == "ACCEPT" and (
            net.bridge in (r.option("-i"), r.option("-o"))
            or not any(r.option(o) for o in ("-i", "-o", "-s", "-d", "-p", "-m")))
            for r in reachable)
        if not accepted:
            doc.find("forward-drop-br-netfilter", ERROR, f"{doc.host} {net.bridge}",
                     "the FORWARD policy is DROP and net.bridge.bridge-nf-call-iptables is 1: "
                     "br_netfilter passes even container-to-container frames through FORWARD, "
                     f"and no rule accepts those of {net.bridge}",
                     f"iptables -A FORWARD -i {net.bridge} -o {net.bridge} -j ACCEPT")


def check_masquerade(doc: Doctor) -> None:
    """Egress of the subnet to the outside needs MASQUERADE (or SNAT) for the replies."""
    reachable = doc.rules("nat").reachable("POSTROUTING")
    masq = [r for r in reachable if r.target in ("MASQUERADE", "SNAT")]
    for net in doc.nets:
        if net.subnet is None or net.masquerade is False:
            continue
        if net.masquerade is None and not _has_uplink(doc):
            continue  # discovered network and nowhere to go: nothing to masquerade for
        subnet = ipaddress.IPv4Network(net.subnet)
        fix = f"iptables -t nat -A POSTROUTING -s {net.subnet} ! -o {net.bridge} -j MASQUERADE"
        sources = [r.option("-s") for r in masq if r.option("-d") is None]
        if any(s is not None and _covers(s, subnet) for s in sources):
            continue
        if any(s is None for s in sources):
            continue  # masquerades everything
        if masq:
            others = ", ".join(sorted({s for s in sources if s})) or "other destinations only"
            doc.find("masquerade-mismatch", ERROR, f"{doc.host} nat POSTROUTING",
                     f"MASQUERADE is there for {others}, not for {net.name}'s subnet "
                     f"{net.subnet}: its packets leave with private source addresses and "
                     "the replies never find their way back", fix)
        else:
            doc.find("masquerade-missing", ERROR, f"{doc.host} nat POSTROUTING",
                     f"no MASQUERADE for {net.subnet}: the containers' packets leave with "
                     "private source addresses and the replies never find their way back", fix)


def _covers(source: str, subnet: ipaddress.IPv4Network) -> bool:
    try:
        return subnet.subnet_of(ipaddress.IPv4Network(source, strict=False))
    except ValueError:
        return False


def _has_uplink(doc: Doctor) -> bool:
    try:
        return any(r.dst == "default" for r in doc.backend.route_list(doc.host))
    except CtrnetError:
        return False


def doc_in(doc: Doctor, ns: str, command: str) -> str:
    from ctrnet.troubleshoot.doctor import in_ns

    return in_ns(doc.host, ns, command)


ALL: tuple[Callable[[Doctor], None], ...] = (
    check_lo_down, check_veth, check_addressing, check_mtu, check_default_route,
    check_resolv_conf, check_bridge,
    check_address_conflict, check_ip_forward, check_forward_drop, check_masquerade,
)
