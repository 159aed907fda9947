"""Link lifecycle in the simulated world: create, up/down, master, mtu, mac, rename, move,
delete, with the side effects the kernel attaches to each (routes flushed on down, bridge
ports enabled/disabled, FDB local entries, veth pairs living and dying together).

Every function validates everything before it changes anything, so a refused request
leaves the world as it was.

Layering: above the stack (`stack.py`), part of the backend: it changes the data of
`devices.py` and the routes of `routing.py`; no handler imports it.
"""

from __future__ import annotations

import errno

from ctrnet.backends.sim.devices import (
    MAX_PORTS,
    Bridge,
    BridgeState,
    Device,
    Loopback,
    Namespace,
    Port,
    Veth,
    check_ifname,
)
from ctrnet.backends.sim.packet import BROADCAST_MAC, is_multicast_mac, parse_ip
from ctrnet.backends.sim.routing import add_connected_routes, addr_add, addr_flush
from ctrnet.backends.sim.world import World
from ctrnet.errors import from_errno
from ctrnet.types import OperState


def _check_free(ns: Namespace, name: str) -> None:
    check_ifname(name)
    if name in ns.devices:
        raise from_errno(errno.EEXIST, f"device {name!r} exists in namespace {ns.name!r}")


def _check_mtu(dev: Device, mtu: int) -> None:
    low, high = dev.mtu_range()
    if not low <= mtu <= high:
        raise from_errno(errno.EINVAL, f"mtu {mtu} out of range {low}..{high} for {dev.name}")


def veth_add(world: World, ns: Namespace, name: str, peer: str, peer_ns: Namespace,
             mtu: int | None) -> None:
    _check_free(ns, name)
    _check_free(peer_ns, peer)
    if ns is peer_ns and name == peer:
        raise from_errno(errno.EEXIST, f"device {name!r} exists")
    a = Veth(ns, name, 0, world.new_mac())
    b = Veth(peer_ns, peer, 0, world.new_mac())
    if mtu is not None:
        _check_mtu(a, mtu)
        a.mtu = b.mtu = mtu
    a.peer, b.peer = b, a
    # The peer is registered first, as veth_newlink does.
    peer_ns.attach(b)
    ns.attach(a)


def bridge_add(world: World, ns: Namespace, name: str) -> Bridge:
    _check_free(ns, name)
    br = BridgeState(world.clock)
    dev = Bridge(ns, name, 0, world.new_mac(), br)
    br.dev = dev
    ns.attach(dev)
    br.add_local(None, dev.mac)  # the bridge's own address: a local entry on the bridge
    return dev


def _refresh_ports_around(dev: Device) -> None:
    """Admin/carrier of `dev` changed: re-evaluate the bridge ports this can affect."""
    if dev.port is not None:
        dev.port.br.refresh_port(dev.port)
    if isinstance(dev, Veth) and dev.peer.port is not None:
        dev.peer.port.br.refresh_port(dev.peer.port)
    if isinstance(dev, Bridge):
        dev.br.refresh_all()


def set_up(world: World, dev: Device, up: bool) -> None:
    if dev.up == up:
        return
    dev.up = up
    if isinstance(dev, Veth):
        dev.settled = dev.peer.settled = None  # a new carrier event: linkwatch runs again
    ns = dev.ns
    if up:
        if isinstance(dev, Loopback) and not dev.addrs:
            # inetdev_event(NETDEV_UP) gives loopback 127.0.0.1/8 when it has no address.
            addr_add(ns.fib, dev, parse_ip("127.0.0.1"), 8)
        add_connected_routes(ns.fib, dev)
    else:
        # fib_disable_ip: every main-table route through the device goes, and the
        # neighbours with it (arp_ifdown); the veth peer loses carrier: its neighbours too.
        ns.fib.flush_dev(dev)
        # NETDEV_DOWN: neigh_ifdown takes the permanent entries too; the peer's carrier loss
        # (neigh_carrier_down) keeps them.
        ns.neigh.flush(dev, everything=True)
        if isinstance(dev, Veth):
            dev.peer.ns.neigh.flush(dev.peer)
    if isinstance(dev, Bridge):
        br, now = dev.br, world.clock.now()
        br.settle(now)
        if up:
            br.gc_next = now + 0.1  # br_stp_enable_bridge: gc_work in HZ/10
        else:
            # br_stp_disable_bridge cancels gc_work and the topology change timer (a
            # topology change in progress then never ends).
            br.gc_until(now)
            br.gc_next = None
            if br.tc_until is not None:
                br.tc_until = float("inf")
    _refresh_ports_around(dev)


def bridge_mtu_auto(br: BridgeState) -> None:
    """br_mtu_auto_adjust: the bridge follows its smallest port unless the user set it."""
    if br.mtu_set:
        return
    br.dev.mtu = min((p.mtu for p in br.ports), default=1500)


def set_master(world: World, dev: Device, master: Device | None) -> None:
    current = dev.port.br.dev if dev.port is not None else None
    if master is current:
        return
    if master is None:
        release(dev)
        return
    if not isinstance(master, Bridge):
        raise from_errno(errno.EOPNOTSUPP, f"{master.name} is not a bridge")
    if isinstance(dev, Loopback):
        raise from_errno(errno.EINVAL, "loopback cannot be a bridge port")
    if isinstance(dev, Bridge):
        # br_add_if: a bridge (itself included) cannot be a port: that would be a loop.
        raise from_errno(errno.ELOOP, f"{dev.name} is a bridge")
    br = master.br
    no = br.free_port_no()
    if no is None or len(br.ports) >= MAX_PORTS:
        raise from_errno(errno.EXFULL, f"bridge {master.name} has {MAX_PORTS} ports")
    if current is not None:
        # do_set_master: leave the old master first, then join the new one.
        release(dev)
    port = Port(dev, br, no)
    br.take_port_no(no)
    br.ports[dev] = port
    dev.port = port
    br.had_port = True
    br.add_local(port, dev.mac)
    br.recalc_mac()
    bridge_mtu_auto(br)
    br.refresh_port(port)


def release(dev: Device) -> None:
    port = dev.port
    if port is None:
        return
    br = port.br
    had_carrier = br.carrier()
    br.flush_port(port, everything=True)
    del br.ports[dev]
    br.give_port_no(port.no)
    dev.port = None
    # The address may still be another port's (or the bridge's own).
    for other in br.ports.values():
        if other.dev.mac == dev.mac and dev.mac not in br.fdb:
            br.add_local(other, dev.mac)
    br.recalc_mac()
    bridge_mtu_auto(br)
    if had_carrier:
        br.carrier_check()


def set_mtu(dev: Device, mtu: int) -> None:
    _check_mtu(dev, mtu)
    dev.mtu = mtu
    if isinstance(dev, Bridge):
        dev.br.mtu_set = True
    if dev.port is not None:
        bridge_mtu_auto(dev.port.br)


def set_mac(dev: Device, mac: int) -> None:
    if isinstance(dev, Loopback):
        raise from_errno(errno.EOPNOTSUPP, "loopback has no settable address")
    if mac == 0 or mac == BROADCAST_MAC or is_multicast_mac(mac):
        # eth_prepare_mac_addr_change: !is_valid_ether_addr -> EADDRNOTAVAIL
        raise from_errno(errno.EADDRNOTAVAIL, "not a unicast MAC address")
    old = dev.mac
    if old == mac:
        return
    dev.mac = mac
    # NETDEV_CHANGEADDR: neigh_changeaddr drops every entry of the device, permanent ones too.
    dev.ns.neigh.flush(dev, everything=True)
    if isinstance(dev, Bridge):  # br_set_mac_address
        br = dev.br
        br.mac_set = True
        br.remove_local(None, old)
        if mac not in br.fdb or not br.fdb[mac].local:
            br.add_local(None, mac)
    if dev.port is not None:
        br = dev.port.br
        br.remove_local(dev.port, old)
        br.add_local(dev.port, mac)
        br.recalc_mac()


def rename(dev: Device, new_name: str) -> None:
    # Linux >= 6.8 renames running devices too (commit bd039b5ea2a9), so no EBUSY here.
    if new_name == dev.name:
        return
    ns = dev.ns
    _check_free(ns, new_name)
    del ns.devices[dev.name]
    _move_sysctls(ns, dev.name, new_name)
    dev.name = new_name
    ns.devices[new_name] = dev


def _leave(dev: Device) -> None:
    """What unregistering from a namespace takes away: admin up, master, addresses,
    routes and neighbours."""
    world_ns = dev.ns
    if dev.up:
        dev.up = False
        if isinstance(dev, Veth):
            dev.peer.ns.neigh.flush(dev.peer)
            if dev.peer.port is not None:
                dev.peer.port.br.refresh_port(dev.peer.port)
    if isinstance(dev, Bridge):
        for port_dev in list(dev.br.ports):
            release(port_dev)
    release(dev)
    addr_flush(world_ns.fib, dev)
    world_ns.neigh.flush(dev, everything=True)
    _move_sysctls(world_ns, dev.name, None)
    world_ns.detach(dev)


def _move_sysctls(ns: Namespace, old: str, new: str | None) -> None:
    """Per-device sysctls live in the device's /proc/sys directories: they follow a rename
    and vanish with the device."""
    marker = f".conf.{old}."
    for key in [k for k in ns.sysctl if marker in k]:
        value = ns.sysctl.pop(key)
        if new is not None:
            ns.sysctl[key.replace(marker, f".conf.{new}.")] = value


def set_netns(dev: Device, target: Namespace) -> None:
    if target is dev.ns:
        return
    if isinstance(dev, (Loopback, Bridge)):
        # NETIF_F_NETNS_LOCAL: loopback and bridges stay where they were made.
        raise from_errno(errno.EINVAL, f"{dev.name} cannot change namespace")
    if dev.name in target.devices:
        raise from_errno(errno.EEXIST, f"device {dev.name!r} exists in {target.name!r}")
    index = dev.index
    if isinstance(dev, Veth):
        peer = dev.peer
        dev.settled = None
        if peer is not dev and peer.up and not dev.up and peer.ns is dev.ns:
            # The peer lost its carrier while this end was here and down: linkwatch settled
            # on LOWERLAYERDOWN then, and the move (no carrier change) re-evaluates nothing.
            # (Were this end up, its close would be a carrier event linkwatch handles after
            # the move, when the lookup of this end's index fails: DOWN; seen on 6.18.)
            peer.settled = OperState.LOWERLAYERDOWN
    _leave(dev)
    target.attach(dev, index)


def delete(dev: Device) -> None:
    if isinstance(dev, Loopback):
        raise from_errno(errno.EOPNOTSUPP, "loopback cannot be deleted")
    _leave(dev)
    if isinstance(dev, Veth) and dev.peer.name in dev.peer.ns.devices \
            and dev.peer.ns.devices[dev.peer.name] is dev.peer:
        _leave(dev.peer)


def destroy_namespace(world: World, ns: Namespace) -> None:
    """cleanup_net: every device goes; veth peers elsewhere die with their partner."""
    for dev in list(ns.devices.values()):
        if isinstance(dev, Loopback):
            continue
        if dev.name in ns.devices:
            delete(dev)
    del world.namespaces[ns.name]
