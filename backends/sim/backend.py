"""SimBackend: the Backend protocol over the in-memory world.

Parses the caller's strings, looks objects up (ENOENT for a namespace, ENODEV for a
device, as the kernel answers), delegates to `links`, `routing`, `neighbour` and `ipv4`
(netfilter, tc and transport operations: `operations.NetfilterOps`), and turns the world's
records into the observation types of `ctrnet.types`.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import Protocol

from ctrnet.backend import HOST_NS, IN_PROCESS, SIMULATED_COMMAND_LINE, Backend
from ctrnet.backends.sim import links, routing
from ctrnet.backends.sim.capture import CaptureOps
from ctrnet.backends.sim.devices import (
    MAX_FORWARD_DELAY,
    MIN_FORWARD_DELAY,
    Bridge,
    Device,
    FdbRecord,
    Namespace,
    RouteRec,
    Veth,
    is_primary,
)
from ctrnet.backends.sim.etcfiles import EtcFilesOps
from ctrnet.backends.sim.ipv4 import ip_local_out, route_output
from ctrnet.backends.sim.neighbour import neigh_delete, neigh_set
from ctrnet.backends.sim.operations import NetfilterOps
from ctrnet.backends.sim.packet import (
    ICMP_ECHO,
    IPPROTO_ICMP,
    Icmp,
    IPv4,
    ip_str,
    parse_ip,
    parse_mac,
    prefix_mask,
)
from ctrnet.backends.sim.sysctl import sysctl_get, sysctl_set
from ctrnet.backends.sim.trace import TraceOps
from ctrnet.backends.sim.world import World
from ctrnet.errors import from_errno
from ctrnet.types import (
    Address,
    BridgeInfo,
    FdbEntry,
    Link,
    Neighbour,
    NeighState,
    PingError,
    PingResult,
    PortInfo,
    Route,
    RouteDecision,
)


def _cidr(text: str) -> tuple[int, int]:
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError:
        raise from_errno(errno.EINVAL, f"bad IPv4 address {text!r}") from None
    return int(iface.ip), iface.network.prefixlen


def _prefix(text: str) -> tuple[int, int]:
    if text == "default":
        return 0, 0
    ip, plen = _cidr(text)
    if ip & ~prefix_mask(plen) & 0xFFFFFFFF:
        # rtm_to_fib_config: "Invalid prefix for given prefix length".
        raise from_errno(errno.EINVAL, f"{text} has host bits set")
    return ip, plen


class Keeper(Protocol):
    """Where a world kept between processes goes (`keeper._Keeper`), with the records saved
    beside it."""

    records: dict[str, str] | None

    def save(self, backend: SimBackend, records: dict[str, str] | None = None) -> None: ...

    def __call__(self, backend: SimBackend) -> None: ...


def _ip(text: str) -> int:
    try:
        return parse_ip(text)
    except ValueError:
        raise from_errno(errno.EINVAL, f"bad IPv4 address {text!r}") from None


def _centi(seconds: float) -> float:
    # The kernel keeps bridge times in centiseconds (clock_t).
    return round(seconds * 100) / 100


class SimBackend(NetfilterOps, EtcFilesOps, CaptureOps, TraceOps, Backend):
    """A deterministic in-memory world; `seed` picks the MACs it hands out."""

    name = "sim"
    capabilities = frozenset({"virtual-clock", "live-rename", "ping", "iptables", "ebtables",
                              "tc", "conntrack", "capture", "trace", SIMULATED_COMMAND_LINE,
                              IN_PROCESS})

    def __init__(self, seed: int = 0) -> None:
        self.world = World(seed)
        self.world.namespaces[HOST_NS] = Namespace(HOST_NS)
        #: Set by `keeper.open_world(state_dir=…)`: checkpoint() saves the world, close()
        #: saves it and lets it go instead of destroying it. Not part of the world.
        self.keeper: Keeper | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def checkpoint(self, records: dict[str, str] | None = None) -> None:
        if self.keeper is not None:
            self.keeper.save(self, records)

    def checkpointed_records(self) -> dict[str, str] | None:
        if self.keeper is None:
            return None  # a throw-away world keeps nothing
        return self.keeper.records if self.keeper.records is not None else {}

    def close(self) -> None:
        keeper, self.keeper = self.keeper, None
        if keeper is not None:
            keeper(self)
            return
        for name in list(self.world.namespaces):
            links.destroy_namespace(self.world, self.world.namespaces[name])
        # Like a fresh kernel sandbox: the host namespace exists again, empty.
        self.world.namespaces[HOST_NS] = Namespace(HOST_NS)

    def _ns(self, ns: str) -> Namespace:
        return self.world.ns(ns)

    def _dev(self, ns: str, name: str) -> Device:
        return self.world.ns(ns).device(name)

    # -- namespaces ----------------------------------------------------------------------------
    def netns_add(self, ns: str) -> None:
        if ns in self.world.namespaces:
            raise from_errno(errno.EEXIST, f"namespace {ns!r} exists")
        if not ns or "/" in ns or ns in (".", ".."):
            raise from_errno(errno.EINVAL, f"invalid namespace name {ns!r}")
        self.world.namespaces[ns] = Namespace(ns)

    def netns_delete(self, ns: str) -> None:
        if ns == HOST_NS:
            raise from_errno(errno.EBUSY, "the host namespace lives as long as the world")
        links.destroy_namespace(self.world, self._ns(ns))

    def netns_list(self) -> list[str]:
        return sorted(n for n in self.world.namespaces if n != HOST_NS)

    def netns_path(self, ns: str) -> str:
        self._ns(ns)  # ENOENT for a namespace the world does not have
        return f"/var/run/netns/{ns}"  # what the simulated `nsenter` and `ip netns` resolve

    # -- links ---------------------------------------------------------------------------------
    def veth_add(self, ns: str, name: str, peer: str, peer_ns: str | None = None, *,
                 mtu: int | None = None) -> None:
        home = self._ns(ns)
        other = self._ns(peer_ns) if peer_ns is not None else home
        links.veth_add(self.world, home, name, peer, other, mtu)

    def bridge_add(self, ns: str, name: str, *, stp_state: int = 0, forward_delay: float = 15.0,
                   ageing_time: float = 300.0) -> None:
        dev = links.bridge_add(self.world, self._ns(ns), name)
        # br_changelink applies forward_delay, then ageing_time, then stp_state.
        dev.br.forward_delay = _centi(forward_delay)
        dev.br.set_ageing_time(_centi(ageing_time))
        self._set_stp(dev, stp_state)

    def _set_stp(self, dev: Bridge, stp_state: int) -> None:
        br = dev.br
        if bool(stp_state) and not br.stp_state:
            # br_stp_start clamps forward_delay into BR_MIN/MAX_FORWARD_DELAY.
            br.forward_delay = min(max(br.forward_delay, MIN_FORWARD_DELAY), MAX_FORWARD_DELAY)
        elif not stp_state and br.stp_state:
            br.stp_stopped()
        br.stp_state = 1 if stp_state else 0

    def bridge_set(self, ns: str, name: str, *, stp_state: int | None = None,
                   forward_delay: float | None = None, ageing_time: float | None = None) -> None:
        dev = self._dev(ns, name)
        if not isinstance(dev, Bridge):
            raise from_errno(errno.EOPNOTSUPP, f"{name} is not a bridge")
        br = dev.br
        br.settle(self.world.clock.now())
        if forward_delay is not None:
            value = _centi(forward_delay)
            # br_changelink applies forward_delay before stp_state; with STP running the
            # value must lie in 2..30 s (br_set_forward_delay -> ERANGE).
            if br.stp_state and not MIN_FORWARD_DELAY <= value <= MAX_FORWARD_DELAY:
                raise from_errno(errno.ERANGE, f"forward_delay {forward_delay} out of 2..30 s")
            br.forward_delay = value
        if ageing_time is not None:
            br.set_ageing_time(_centi(ageing_time))
        if stp_state is not None:
            self._set_stp(dev, stp_state)

    def link_set_up(self, ns: str, name: str, up: bool = True) -> None:
        links.set_up(self.world, self._dev(ns, name), up)

    def link_set_master(self, ns: str, name: str, master: str | None) -> None:
        dev = self._dev(ns, name)
        bridge = self._dev(ns, master) if master is not None else None
        links.set_master(self.world, dev, bridge)

    def link_set_mtu(self, ns: str, name: str, mtu: int) -> None:
        links.set_mtu(self._dev(ns, name), mtu)

    def link_set_mac(self, ns: str, name: str, mac: str) -> None:
        dev = self._dev(ns, name)
        try:
            value = parse_mac(mac)
        except ValueError:
            raise from_errno(errno.EINVAL, f"bad MAC {mac!r}") from None
        links.set_mac(dev, value)

    def link_rename(self, ns: str, name: str, new_name: str) -> None:
        links.rename(self._dev(ns, name), new_name)

    def link_set_netns(self, ns: str, name: str, target_ns: str) -> None:
        dev = self._dev(ns, name)
        links.set_netns(dev, self._ns(target_ns))

    def bridge_port_set(self, ns: str, name: str, *, hairpin: bool | None = None,
                        learning: bool | None = None) -> None:
        dev = self._dev(ns, name)
        if dev.port is None:
            raise from_errno(errno.EOPNOTSUPP, f"{name} is not a bridge port")
        if hairpin is not None:
            dev.port.hairpin = hairpin
        if learning is not None:
            dev.port.learning = learning

    def link_delete(self, ns: str, name: str) -> None:
        links.delete(self._dev(ns, name))

    def _link(self, dev: Device) -> Link:
        now = self.world.clock.now()
        bridge = port = None
        if isinstance(dev, Bridge):
            br = dev.br
            br.settle(now)
            bridge = BridgeInfo(br.stp_state, br.forward_delay, br.ageing_time)
        if dev.port is not None:
            p = dev.port
            port = PortInfo(p.state(now), p.hairpin, p.learning)
        peer = dev.peer if isinstance(dev, Veth) else None
        return Link(
            ns=dev.ns.name, name=dev.name, index=dev.index, kind=dev.kind,
            mac=_mac(dev.mac), mtu=dev.mtu, up=dev.up, operstate=dev.operstate(),
            carrier=dev.carrier(),
            master=dev.port.br.dev.name if dev.port is not None else None,
            peer=peer.name if peer is not None else None,
            peer_ns=peer.ns.name if peer is not None else None,
            bridge=bridge, port=port,
        )

    def link_list(self, ns: str) -> list[Link]:
        space = self._ns(ns)
        return [self._link(space.by_index[i]) for i in sorted(space.by_index)]

    def link_get(self, ns: str, name: str) -> Link:
        return self._link(self._dev(ns, name))

    # -- addresses -------------------------------------------------------------------------------
    def addr_add(self, ns: str, ifname: str, cidr: str) -> None:
        dev = self._dev(ns, ifname)
        ip, plen = _cidr(cidr)
        routing.addr_add(dev.ns.fib, dev, ip, plen)

    def addr_delete(self, ns: str, ifname: str, cidr: str) -> None:
        dev = self._dev(ns, ifname)
        ip, plen = _cidr(cidr)
        routing.addr_delete(dev.ns.fib, dev, ip, plen)
        if not dev.addrs:
            # fib_inetaddr_event: the last address gone disables IP on the device: every
            # route through it and its neighbours go (fib_disable_ip, arp_ifdown).
            dev.ns.fib.flush_dev(dev)
            dev.ns.neigh.flush(dev, everything=True)

    def addr_list(self, ns: str, ifname: str | None = None) -> list[Address]:
        space = self._ns(ns)
        devs = ([space.device(ifname)] if ifname is not None
                else [space.by_index[i] for i in sorted(space.by_index)])
        return [Address(ns, d.name, ip_str(ip), plen) for d in devs for ip, plen in d.addrs]

    # -- routes ------------------------------------------------------------------------------------
    def route_add(self, ns: str, dst: str, *, gateway: str | None = None, dev: str | None = None,
                  metric: int | None = None) -> None:
        space = self._ns(ns)
        net, plen = _prefix(dst)
        out = space.device(dev) if dev is not None else None
        gw = _ip(gateway) if gateway is not None else None
        if gw is not None:
            # fib_check_nh_v4_gw: the gateway must be on a link-scope route (or ours),
            # through `dev` when one is named.
            if space.fib.is_local(gw):
                via = out or _local_dev(space, gw)
            else:
                rec = space.fib.lookup(gw, link_scope_only=True)
                if rec is None or (out is not None and rec.dev is not out):
                    raise from_errno(errno.ENETUNREACH, f"gateway {gateway} is unreachable")
                via = rec.dev
            scope = "universe"
        elif out is not None:
            if not out.up:
                raise from_errno(errno.ENETDOWN, f"{dev} is down")
            via, scope = out, "link"
        else:
            raise from_errno(errno.ENODEV, "route needs a device or a gateway")
        rec = RouteRec(net, plen, via, gw, None, scope, "boot", metric or 0)
        if not space.fib.insert(rec):
            raise from_errno(errno.EEXIST, f"route {dst} exists")

    def route_delete(self, ns: str, dst: str, *, gateway: str | None = None,
                     dev: str | None = None, metric: int | None = None) -> None:
        space = self._ns(ns)
        net, plen = _prefix(dst)
        out = space.device(dev) if dev is not None else None
        gw = _ip(gateway) if gateway is not None else None
        for rec in space.fib.find(net, plen):
            if ((gw is None or rec.gateway == gw) and (out is None or rec.dev is out)
                    and (metric is None or rec.metric == metric)):
                space.fib.remove(rec)
                return
        raise from_errno(errno.ESRCH, f"no route {dst}")

    def route_list(self, ns: str) -> list[Route]:
        return [
            Route(ns=ns, dst="default" if r.plen == 0 else f"{ip_str(r.net)}/{r.plen}",
                  dev=r.dev.name,
                  gateway=ip_str(r.gateway) if r.gateway is not None else None,
                  prefsrc=ip_str(r.prefsrc) if r.prefsrc is not None else None,
                  scope=r.scope, proto=r.proto, metric=r.metric)
            for r in self._ns(ns).fib.routes()
        ]

    def route_list_local(self, ns: str) -> list[Route]:
        # fib_add_ifaddr: a local route per address (whatever the link state), and while
        # the link is up, per primary address its subnet broadcast and, on lo, the prefix
        # itself as a local route.
        space = self._ns(ns)
        found: list[tuple[int, int, Route]] = []

        def add(ip: int, plen: int, dev: Device, src: int, kind: str) -> None:
            dst = ip_str(ip) if plen == 32 else f"{ip_str(ip)}/{plen}"
            scope = "host" if kind == "local" else "link"
            found.append((ip, -plen, Route(ns=ns, dst=dst, dev=dev.name, prefsrc=ip_str(src),
                                           scope=scope, proto="kernel", type=kind)))

        for dev in space.devices.values():
            for ip, plen in dev.addrs:
                add(ip, 32, dev, space.fib.local_src.get(ip, ip), "local")
                if dev is space.lo and dev.up and plen < 32 \
                        and is_primary(dev, ip, plen):
                    mask = prefix_mask(plen)
                    add(ip & mask, plen, dev, ip, "local")
                    if plen < 31:
                        add((ip & mask) | (~mask & 0xFFFFFFFF), 32, dev, ip, "broadcast")
        for bcast, (dev, src) in space.fib.broadcasts.items():
            add(bcast, 32, dev, src, "broadcast")
        found.sort(key=lambda item: (item[0], item[1]))
        return [route for _, _, route in found]

    def route_get(self, ns: str, dst: str) -> RouteDecision:
        space = self._ns(ns)
        target = _ip(dst)
        route = route_output(space, target)
        return RouteDecision(
            dst=ip_str(target), type=route.type, dev=route.dev.name,
            gateway=ip_str(route.gateway) if route.gateway is not None else None,
            prefsrc=ip_str(route.src) if route.src is not None else None)

    # -- neighbours and FDB --------------------------------------------------------------------
    def neigh_list(self, ns: str, ifname: str | None = None) -> list[Neighbour]:
        space = self._ns(ns)
        dev = space.device(ifname) if ifname is not None else None
        now = self.world.clock.now()
        return [
            Neighbour(ns, e.dev.name, ip_str(e.ip),
                      _mac(e.mac) if e.mac is not None else None, e.state)
            for e in space.neigh.listing(now) if dev is None or e.dev is dev
        ]

    def neigh_flush(self, ns: str, ifname: str | None = None) -> None:
        space = self._ns(ns)
        space.neigh.flush(space.device(ifname) if ifname is not None else None)

    def neigh_set(self, ns: str, ifname: str, ip: str, mac: str | None, state: NeighState,
                  *, create: bool, exclusive: bool) -> None:
        space = self._ns(ns)
        neigh_set(self.world, space, space.device(ifname), _ip(ip),
                  parse_mac(mac) if mac is not None else None, state, create=create,
                  exclusive=exclusive)
        self.world.run()

    def neigh_delete(self, ns: str, ifname: str, ip: str) -> None:
        space = self._ns(ns)
        neigh_delete(space, space.device(ifname), _ip(ip))

    def fdb_list(self, ns: str, bridge: str | None = None) -> list[FdbEntry]:
        space = self._ns(ns)
        if bridge is not None:
            dev = space.device(bridge)
            # A device that is no bridge has no bridge entries: an empty list, no error.
            bridges = [dev] if isinstance(dev, Bridge) else []
        else:
            bridges = [d for d in space.devices.values() if isinstance(d, Bridge)]
        out = []
        for b in bridges:
            b.br.purge()
            for mac, rec in b.br.fdb.items():
                port = rec.port.dev.name if rec.port is not None else b.name
                out.append(FdbEntry(ns, b.name, port, _mac(mac), rec.local, rec.static))
        out.sort(key=lambda e: (e.bridge, e.port, e.mac))
        return out

    def _port(self, ns: str, port: str, mac: str) -> tuple[Device, int]:
        dev = self._dev(ns, port)
        if dev.port is None:
            raise from_errno(errno.EOPNOTSUPP, f"{port} is not a bridge port")
        try:
            return dev, parse_mac(mac)
        except ValueError:
            raise from_errno(errno.EINVAL, f"bad MAC {mac!r}") from None

    def fdb_add(self, ns: str, port: str, mac: str) -> None:
        dev, value = self._port(ns, port, mac)
        assert dev.port is not None
        br = dev.port.br
        if br.lookup(value, self.world.clock.now()) is not None:
            raise from_errno(errno.EEXIST, f"FDB entry {mac} exists")
        br.fdb[value] = _static(dev, self.world.clock.now())

    def fdb_set(self, ns: str, port: str, mac: str, *, kind: str, replace: bool) -> None:
        dev, value = self._port(ns, port, mac)
        assert dev.port is not None
        br = dev.port.br
        now = self.world.clock.now()
        rec = br.lookup(value, now)
        if rec is not None and not replace:
            raise from_errno(errno.EEXIST, f"FDB entry {mac} exists")
        if kind not in ("permanent", "static", "dynamic"):
            raise from_errno(errno.EINVAL, f"FDB entry kind {kind!r}")
        # fdb_add_entry: NUD_PERMANENT -> local (and static), NUD_NOARP -> static, else a
        # dynamic entry that ages; a replaced entry moves to the new port.
        local, static = kind == "permanent", kind != "dynamic"
        if rec is None:
            br.fdb[value] = FdbRecord(dev.port, local, static, now)
        else:
            rec.port, rec.local, rec.static, rec.updated = dev.port, local, static, now

    def fdb_delete(self, ns: str, port: str, mac: str) -> None:
        dev, value = self._port(ns, port, mac)
        assert dev.port is not None
        br = dev.port.br
        rec = br.lookup(value, self.world.clock.now())
        if rec is None or rec.port is not dev.port:
            raise from_errno(errno.ENOENT, f"no FDB entry {mac} on {port}")
        del br.fdb[value]

    # -- sysctls -----------------------------------------------------------------------------------
    def sysctl_get(self, ns: str, key: str) -> str:
        return sysctl_get(self._ns(ns), key)

    def sysctl_set(self, ns: str, key: str, value: str) -> None:
        sysctl_set(self._ns(ns), key, value)

    # -- probes and clock --------------------------------------------------------------------------
    def ping(self, ns: str, dst: str, *, count: int = 1, timeout: float = 1.0,
             interval: float = 0.2, size: int = 56) -> PingResult:
        space = self._ns(ns)
        world = self.world
        target = _ip(dst)
        route = route_output(space, target)  # connect(): ENETUNREACH without a route
        if route.type == "broadcast":
            # iputils ping refuses a broadcast destination unless given -b.
            raise from_errno(errno.EINVAL, f"ping {dst}: a broadcast address")
        src = route.src
        ident = world.next_ident()
        replies = space.echo_replies[ident] = EchoLog()
        sent = 0
        try:
            for seq in range(1, count + 1):
                data = bytes(size) if size != 56 else None  # None: the usual 56 bytes
                packet = IPv4(src or 0, target, IPPROTO_ICMP,
                              Icmp(ICMP_ECHO, 0, ident, seq, data), ident=world.next_ip_id())
                if ip_local_out(world, space, packet):
                    sent += 1
                world.run()
                if seq < count:
                    world.advance(interval)
            if len(replies) < sent or sent < count:
                world.advance(timeout)
        finally:
            del space.echo_replies[ident]
        seen: dict[int, int] = {}
        for seq, ttl in replies:
            seen.setdefault(seq, ttl)
        errors = tuple(PingError(seq, ip_str(origin), type, code)
                       for seq, origin, type, code in replies.errors)
        return PingResult(dst=dst, sent=sent, received=len(seen),
                          ttls=tuple(seen[s] for s in sorted(seen)),
                          replied=tuple(sorted(seen)), errors=errors)

    def sleep(self, seconds: float) -> None:
        self.world.advance(seconds)

    def now(self) -> float:
        return self.world.clock.now()


class EchoLog(list[tuple[int, int]]):
    """A ping's replies (seq, ttl) as they arrive, and the ICMP errors about its requests
    (seq, from, type, code), which icmp_rcv adds."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[tuple[int, int, int, int]] = []


def _mac(mac: int) -> str:
    raw = mac.to_bytes(6, "big")
    return ":".join(f"{b:02x}" for b in raw)


def _local_dev(space: Namespace, ip: int) -> Device:
    for dev in space.devices.values():
        if any(a == ip for a, _ in dev.addrs):
            return dev
    return space.lo


def _static(dev: Device, now: float) -> FdbRecord:
    return FdbRecord(dev.port, False, True, now)
