"""The IPv4 path of one namespace: receive, local delivery, forwarding, local output, ICMP.

Layering: a protocol handler, above the world and below the transports and netfilter. It
registers its receive function for ETH_P_IP (dev_add_pack), calls the netfilter hook points of
`hooks.py` and hands packets to their next hop through `neighbour.py`. Local delivery goes to
the handler an IP protocol registered (`inet_add_protocol`, the kernel's inet_protos): ICMP is
here, TCP and UDP register from `sockets.py`, which imports this module, not the other way.

Follows the kernel's order (ip_rcv -> PREROUTING -> route input -> INPUT / FORWARD ->
POSTROUTING -> neighbour output; __ip_local_out -> OUTPUT -> POSTROUTING), calling the
netfilter hook points where the kernel does (a hook may rewrite the packet: NAT). Packets to
own addresses go through `lo`, so they are lost while lo is down, as on Linux.

ICMP errors and echo replies pass the namespace's rate limits where the kernel checks them
(__icmp_send, icmp_reply, ip_error); `icmplimit.py` keeps the buckets.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ctrnet.backends.sim.conntrack import attach_related
from ctrnet.backends.sim.devices import Device, Namespace, RouteRec
from ctrnet.backends.sim.hooks import Hook
from ctrnet.backends.sim.icmplimit import (
    DEFAULTS,
    MSGS_BURST,
    MSGS_PER_SEC,
    RATELIMIT,
    RATEMASK,
    jiffies,
    mask_allow,
    ms_to_jiffies,
)
from ctrnet.backends.sim.neighbour import neigh_output
from ctrnet.backends.sim.packet import (
    BROADCAST_MAC,
    DEFAULT_TTL,
    ETH_P_IP,
    ICMP_DEST_UNREACH,
    ICMP_ECHO,
    ICMP_ECHOREPLY,
    ICMP_TIME_EXCEEDED,
    IPPROTO_ICMP,
    Frame,
    Icmp,
    IPv4,
    ip_str,
    is_multicast_mac,
    prefix_mask,
)
from ctrnet.backends.sim.world import CONF_DEFAULTS, World, dev_add_pack
from ctrnet.errors import BackendError, NotModelled, from_errno

LIMITED_BROADCAST = 0xFFFFFFFF
_ECHO_IGNORE_ALL = "net.ipv4.icmp_echo_ignore_all"
LOOPBACK = 0x7F000001
# Enum members bound once: on Python 3.11 every `Hook.X` is a metaclass attribute lookup
# (~150 ns), and the packet path names several per packet.
_PREROUTING, _INPUT, _FORWARD, _OUTPUT, _POSTROUTING = (
    Hook.PREROUTING, Hook.INPUT, Hook.FORWARD, Hook.OUTPUT, Hook.POSTROUTING)

#: What an IP protocol's handler gets: the world, the namespace, the packet and the device it
#: came in by (skb->dev).
ProtocolHandler = Callable[[World, Namespace, IPv4, Device], None]
#: What an IP protocol's error handler gets: the world, the namespace, the ICMP error.
ErrorHandler = Callable[[World, Namespace, IPv4], None]


class NetProtocol:
    """An IP protocol's entry in inet_protos (struct net_protocol): its handler for packets
    delivered locally and, if any, for the ICMP errors that quote one of its packets."""

    __slots__ = ("handler", "err_handler")

    def __init__(self, handler: ProtocolHandler, err_handler: ErrorHandler | None) -> None:
        self.handler = handler
        self.err_handler = err_handler


#: inet_protos: the protocols local delivery knows; packets of others are dropped.
inet_protos: dict[int, NetProtocol] = {}


def inet_add_protocol(proto: int, handler: ProtocolHandler,
                      err_handler: ErrorHandler | None = None) -> None:
    inet_protos[proto] = NetProtocol(handler, err_handler)


class OutRoute:
    """A resolved output route: its type ("local", "unicast", "broadcast", "multicast"),
    device, next hop and source address."""

    __slots__ = ("type", "dev", "nexthop", "gateway", "src", "local")

    def __init__(self, type: str, dev: Device, nexthop: int, gateway: int | None,
                 src: int | None) -> None:
        self.type = type
        self.dev = dev
        self.nexthop = nexthop
        self.gateway = gateway
        self.src = src
        self.local = type == "local"  # an attribute, not a property: read once per packet


def route_output(ns: Namespace, dst: int) -> OutRoute:
    """ip_route_output: local table first, then the main table; ENETUNREACH if nothing."""
    hit = ns.fib.cache.get(dst)
    if hit is not None:
        return hit  # type: ignore[return-value]
    route = _route_output(ns, dst)
    ns.fib.cache[dst] = route
    return route


def _route_output(ns: Namespace, dst: int) -> OutRoute:
    fib = ns.fib
    if dst == 0:
        # ip_route_output_key_hash_rcu: 0.0.0.0 means this host, via lo, from 127.0.0.1.
        return OutRoute("local", ns.lo, LOOPBACK, None, LOOPBACK)
    if dst in fib.local:
        return OutRoute("local", ns.lo, dst, None, fib.local_src.get(dst, dst))
    lo_src = fib.loopback_src(dst)
    if lo_src is not None:
        return OutRoute("local", ns.lo, dst, None, lo_src)
    bcast = fib.broadcasts.get(dst)
    if bcast is not None:
        return OutRoute("broadcast", bcast[0], dst, None, bcast[1])
    rec: RouteRec | None = fib.lookup(dst)
    if rec is None:
        raise from_errno(errno.ENETUNREACH, "Network is unreachable")
    src = rec.prefsrc
    if src is None:
        src = ns.select_src(rec.dev, rec.gateway if rec.gateway is not None else dst)
    gateway = rec.gateway
    kind = "unicast"
    if dst == LIMITED_BROADCAST:
        kind, gateway = "broadcast", None  # __mkroute_output: broadcasts take no gateway
    elif dst >> 28 == 0xE:
        kind = "multicast"
        if rec.plen < 4:
            gateway = None  # "use default one, but do not gateway in this case"
    nexthop = gateway if gateway is not None else dst
    return OutRoute(kind, rec.dev, nexthop, gateway, src)


def ip_rcv(world: World, dev: Device, frame: Frame, to_us: bool) -> None:
    """An IPv4 frame handed to the namespace's stack by `dev` (not a bridge port)."""
    if not to_us and not is_multicast_mac(frame.dst):
        return  # PACKET_OTHERHOST: ip_rcv drops it
    packet = frame.payload
    assert isinstance(packet, IPv4)
    ns = dev.ns
    hooked = world.hooks.run(_PREROUTING, ns, packet, dev, None)
    if hooked is None:
        return
    packet = hooked
    fib = ns.fib
    if dev is not ns.lo and fib.is_local(packet.src) and not _conf_or(ns, dev, "accept_local"):
        return  # fib_validate_source: our own address as source is a martian (accept_local 0)
    if (fib.is_local(packet.dst) or packet.dst == LIMITED_BROADCAST
            or packet.dst in fib.broadcasts):
        hooked = world.hooks.run(_INPUT, ns, packet, dev, None)
        if hooked is not None:
            ip_local_deliver(world, ns, hooked, dev)
        return
    # ip_route_input_slow: forwarding needs IN_DEV_FORWARD; otherwise the packet is dropped
    # silently (ip_error sends nothing when forwarding is off).
    if not to_us or not ns.forwarding(dev):
        return
    try:
        route = route_output(ns, packet.dst)
    except BackendError:
        # ip_error: net unreachable, if the sender's peer has tokens for it (its own limit,
        # before icmp_send's).
        if ns.icmp.ip_error_allow(packet.src, jiffies(world.clock.now())):
            icmp_error(world, ns, packet, ICMP_DEST_UNREACH, 0, indev=dev)
        return
    if route.local:
        return
    if packet.ttl <= 1:
        # ip_forward: TTL would hit zero -> ICMP time exceeded (in transit) to the sender.
        icmp_error(world, ns, packet, ICMP_TIME_EXCEEDED, 0, indev=dev)
        return
    forwarded = packet.copy()
    forwarded.ttl -= 1
    # ip_forward sends the redirect __mkroute_input marked before the FORWARD hook, whatever
    # its verdict; the simulator does not model redirects (the message, its rate limit, the
    # sender's route exception), so it forwards the packet and then refuses loudly.
    redirect = route.type == "unicast" and route.dev is dev and _source_on_link(ns, dev,
                                                                                packet.src) \
        and _conf_or(ns, dev, "send_redirects")
    hooked = world.hooks.run(_FORWARD, ns, forwarded, dev, route.dev)
    if hooked is not None:
        ip_output(world, ns, hooked, route)
    if redirect:
        src, dst, via = ip_str(packet.src), ip_str(packet.dst), ip_str(route.nexthop)
        raise NotModelled(
            f"namespace {ns.name!r} would send {src} an ICMP redirect (a packet to {dst} "
            f"came in and goes out {dev.name}, next hop {via}; send_redirects is on)",
            ja=f"名前空間 {ns.name!r} は {src} に ICMP リダイレクトを送ります ({dst} 宛ての"
               f"パケットが {dev.name} から入って {dev.name} から出ます、次ホップ {via}、"
               "send_redirects が有効)")


def _source_on_link(ns: Namespace, dev: Device, src: int) -> bool:
    """fib_validate_source's answer is non-zero (the kernel may redirect): the route back to
    `src` leaves by `dev` with no gateway (a nexthop of host scope). The first route to `src`
    if it uses `dev`, else the longest one that does (the lookup again with oif = dev)."""
    fib = ns.fib
    first = fib.lookup(src)
    if first is None:
        return False  # last_resort: 0
    if first.dev is dev:
        return first.gateway is None
    for plen in fib.plens:
        for rec in fib.tables[plen].get(src & prefix_mask(plen)) or ():
            if rec.dev is dev:
                return rec.gateway is None
    return False


def _conf_or(ns: Namespace, dev: Device, leaf: str) -> bool:
    """IN_DEV_ORCONF: conf.all's value or the device's own (which is conf.default's until
    written) is non-zero."""
    sysctl = ns.sysctl
    if not sysctl:
        return CONF_DEFAULTS[leaf] != "0"
    own = sysctl.get(f"net.ipv4.conf.{dev.name}.{leaf}")
    if own is None:
        own = sysctl.get(f"net.ipv4.conf.default.{leaf}", CONF_DEFAULTS[leaf])
    return own != "0" or sysctl.get(f"net.ipv4.conf.all.{leaf}", CONF_DEFAULTS[leaf]) != "0"


def ip_output(world: World, ns: Namespace, packet: IPv4, route: OutRoute) -> None:
    hooked = world.hooks.run(_POSTROUTING, ns, packet, None, route.dev)
    if hooked is None:
        return
    packet = hooked
    if route.local:
        # Local traffic loops through lo (dev_loopback_xmit); nothing passes while lo is down.
        world.xmit(ns.lo, Frame(0, 0, ETH_P_IP, packet))
        return
    dev = route.dev
    if route.type == "broadcast":
        world.xmit(dev, Frame(BROADCAST_MAC, dev.mac, ETH_P_IP, packet))  # NOARP
        return
    if route.type == "multicast":
        # ip_eth_mc_map: 01:00:5e + the low 23 bits of the group.
        mac = 0x01005E000000 | (packet.dst & 0x7FFFFF)
        world.xmit(dev, Frame(mac, dev.mac, ETH_P_IP, packet))
        return
    neigh_output(world, ns, route.dev, route.nexthop, packet)


def ip_local_out(world: World, ns: Namespace, packet: IPv4) -> bool:
    """Send a locally generated packet; False when there is no route."""
    try:
        route = route_output(ns, packet.dst)
    except BackendError:
        return False
    dst = packet.dst
    hooked = world.hooks.run(_OUTPUT, ns, packet, None, route.dev)
    if hooked is None:
        return True
    if hooked.dst != dst:
        # ip_route_me_harder: DNAT in OUTPUT sends the packet where its new address goes.
        try:
            route = route_output(ns, hooked.dst)
        except BackendError:
            return True
    ip_output(world, ns, hooked, route)
    return True


def ip_local_deliver(world: World, ns: Namespace, packet: IPv4, dev: Device) -> None:
    """ip_local_deliver_finish: hand the packet to its protocol."""
    prot = inet_protos.get(packet.proto)
    if prot is not None:
        prot.handler(world, ns, packet, dev)


def icmp_rcv(world: World, ns: Namespace, packet: IPv4, dev: Device) -> None:
    icmp = packet.payload
    if not isinstance(icmp, Icmp):
        return
    if icmp.type == ICMP_ECHO:
        if packet.dst == LIMITED_BROADCAST or packet.dst in ns.fib.broadcasts:
            return  # icmp_echo_ignore_broadcasts
        if ns.sysctl.get(_ECHO_IGNORE_ALL, "0") != "0":
            return  # icmp_echo: icmp_echo_ignore_all
        mask = ns.sysctl.get(RATEMASK)
        if mask is not None and not mask_allow(ICMP_ECHOREPLY, 0, int(mask)) \
                and not _reply_allowed(world, ns, packet.src):
            return  # icmp_reply: echo replies are limited only if the mask has bit 0
        reply = IPv4(packet.dst, packet.src, IPPROTO_ICMP,
                     Icmp(ICMP_ECHOREPLY, 0, icmp.ident, icmp.seq, icmp.payload),
                     ttl=DEFAULT_TTL, ident=world.next_ip_id())
        ip_local_out(world, ns, reply)
    elif icmp.type == ICMP_ECHOREPLY:
        ns.deliver_echo_reply(icmp.ident, icmp.seq, packet.ttl)
    else:
        ns.deliver_icmp_error(packet)
        inner = icmp.payload
        if isinstance(inner, IPv4) and isinstance(inner.payload, Icmp) \
                and inner.payload.type == ICMP_ECHO:
            # An error about one of our echo requests: the ping socket's error queue, which
            # iputils reads and prints ("From 10.0.0.1 icmp_seq=1 Destination Port Unreachable").
            log = ns.echo_replies.get(inner.payload.ident)
            errors = getattr(log, "errors", None)
            if errors is not None:
                errors.append((inner.payload.seq, packet.src, icmp.type, icmp.code))
        if isinstance(inner, IPv4):
            # icmp_socket_deliver: the quoted packet's protocol hears of the error.
            prot = inet_protos.get(inner.proto)
            if prot is not None and prot.err_handler is not None:
                prot.err_handler(world, ns, packet)


def icmp_error(world: World, ns: Namespace, offending: IPv4, type: int, code: int, *,
               indev: Device | None = None, related: bool = False) -> None:
    """icmp_send: report a problem with `offending`, which came in by `indev` (None: made
    here), to its sender (never about an error), within the rate limits.
    `related`: tie the error to the offending packet's connection (nf_ct_attach, REJECT)."""
    route = _icmp_send_route(world, ns, offending, type, code, indev)
    if route is None:
        return
    # __icmp_send: the offending packet's destination when it was for us, else the address
    # routing picks toward its sender.
    if ns.fib.is_local(offending.dst):
        src = offending.dst
    else:
        src = route.src if route.src is not None else 0
    error = IPv4(src, offending.src, IPPROTO_ICMP, Icmp(type, code, payload=offending),
                 ttl=DEFAULT_TTL, ident=world.next_ip_id())
    conn = offending.ct
    if related and conn is not None:
        attach_related(error, offending)
    ip_local_out(world, ns, error)


def _icmp_send_route(world: World, ns: Namespace, offending: IPv4, type: int, code: int,
                     indev: Device | None) -> OutRoute | None:
    """__icmp_send's checks, in its order: the error's route, or None when it sends nothing
    (an error about an error, a rate limit, no route back)."""
    inner = offending.payload
    if offending.proto == IPPROTO_ICMP and isinstance(inner, Icmp) \
            and inner.type not in (ICMP_ECHO, ICMP_ECHOREPLY):
        return None
    # The global limit, unless the offending packet came in on loopback; only a message it
    # counted is limited per peer (apply_ratelimit).
    limited = indev is not ns.lo and not mask_allow(type, code, _sysctl(ns, RATEMASK))
    if limited and not _global_allow(world, ns):
        return None
    try:
        route = route_output(ns, offending.src)
    except BackendError:
        return None
    if limited and not _xrlim_allow(world, ns, route, offending.src):
        return None
    return route


def icmp_error_would_go(world: World, ns: Namespace, offending: IPv4, type: int, code: int,
                        indev: Device, *, no_route: bool = False) -> bool:
    """Would an error about `offending` go now (after ip_error's own limit when
    `no_route`)? Asked of a copy of the limits: nothing changes (for trace)."""
    limits = ns.icmp
    ns.icmp = limits.copy_for(offending.src)
    try:
        if no_route and not ns.icmp.ip_error_allow(offending.src, jiffies(world.clock.now())):
            return False
        return _icmp_send_route(world, ns, offending, type, code, indev) is not None
    finally:
        ns.icmp = limits


def _sysctl(ns: Namespace, key: str) -> int:
    value = ns.sysctl.get(key)
    return int(value if value is not None else DEFAULTS[key])


def _global_allow(world: World, ns: Namespace) -> bool:
    """icmpv4_global_allow for a type the mask limits: the namespace's global bucket."""
    return ns.icmp.global_allow(jiffies(world.clock.now()), _sysctl(ns, MSGS_PER_SEC),
                                _sysctl(ns, MSGS_BURST))


def _xrlim_allow(world: World, ns: Namespace, route: OutRoute, daddr: int) -> bool:
    """icmpv4_xrlim_allow: no limit on a route out a loopback device, else the bucket of
    the peer `daddr`; a message it lets go takes from the global credit."""
    limits = ns.icmp
    if route.dev is not ns.lo:
        # icmp_ratelimit reads back in ms what it keeps in jiffies (sysctl.py stores that).
        timeout = ms_to_jiffies(_sysctl(ns, RATELIMIT))
        if not limits.xrlim_allow(daddr, jiffies(world.clock.now()), timeout):
            return False
    limits.global_consume()
    return True


def _reply_allowed(world: World, ns: Namespace, daddr: int) -> bool:
    """icmp_reply's limits for an echo reply to `daddr` when the mask limits echo replies
    (the global one whatever device the request came in by)."""
    if not _global_allow(world, ns):
        return False
    try:
        route = route_output(ns, daddr)
    except BackendError:
        return False
    return _xrlim_allow(world, ns, route, daddr)


dev_add_pack(ETH_P_IP, ip_rcv)
inet_add_protocol(IPPROTO_ICMP, icmp_rcv)
