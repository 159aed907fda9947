"""Connecting containers: the steps of connect (a Plan) and disconnect (a Cleanup).

Bridge mode: a veth pair with the host side in the network's bridge and the container side
as `ifname` in the container's namespace, an IPAM address, the default route via the
gateway, loopback up, the MTU, then per endpoint: tbf rate limits, resolv.conf, MAC
anti-spoofing (ebtables) and the iptables rules (published ports, IP anti-spoofing). Mode
none only brings loopback up; mode host builds nothing, it is recorded. The world lock is
held only where the rules and the records change, so connects to one network run in parallel.

The functions here take `Collaborators`, the few things an endpoint needs (the backend, the
state store, the network's IPAM allocator, a way to re-render the rules), not the manager:
a request goes one way, CLI -> manager (journal, lock, recovery) -> endpoint steps -> backend.
With `create_netns`, making the container's namespace is the connect's first step, undone
like the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ctrnet.backend import Backend
from ctrnet.errors import BackendError, NotFound
from ctrnet.ipam import Allocator
from ctrnet.network import (
    EndpointRecord,
    EndpointSpec,
    FieldError,
    Mode,
    NetworkSpec,
    PortMapping,
    host_ifname,
    mac_for,
)
from ctrnet.plan import Cleanup, Plan, gone_ok, if_present
from ctrnet.rules import change_text, ebtables_spoof_rules, ebtables_spoof_text, endpoint_rules
from ctrnet.state import StateStore

__all__ = ["OP_KEY", "Collaborators", "connect", "disconnect", "tbf_burst", "validate"]

#: Key in a record's `extra` naming the journal entry of the connect that made it: recovery
#: of a dead connect undoes that record, and only that one.
OP_KEY = "op"


@dataclass(frozen=True)
class Collaborators:
    """What connect and disconnect use, and nothing more."""

    backend: Backend
    state: StateStore
    #: The IPAM allocator of a network.
    allocator: Callable[[NetworkSpec], Allocator]
    #: A teardown job named after its operation (`plan.Cleanup`).
    cleanup: Callable[[str], Cleanup]
    #: Re-render every rule from the state, leaving out one endpoint (NETWORK, CONTAINER).
    rerender_without: Callable[[tuple[str, str]], None]

    @property
    def host_ns(self) -> str:
        return self.backend.host_ns

RESOLV_CONF = "resolv.conf"
#: tbf latency: how long a packet may wait for tokens before the qdisc drops it.
TBF_LATENCY = 0.05


def tbf_burst(rate_bps: int, mtu: int) -> int:
    """Bucket size in bytes: 20 ms worth of the rate, but never less than two full frames
    (a tbf whose burst is below the MTU drops every full-size packet)."""
    return max(rate_bps // 8 // 50, 2 * (mtu + 14))


def validate(mgr: Collaborators, spec: EndpointSpec, *, netns_made: bool = False
             ) -> NetworkSpec | None:
    """Refuse what cannot work before touching anything; the network (None for host/none).
    `netns_made`: the connect itself makes the namespace, it need not exist yet."""
    net = None
    if spec.mode is Mode.BRIDGE:
        net = mgr.state.network(spec.network)
        if net is None:
            raise FieldError("network", f"network {spec.network!r} does not exist",
                             ja=f"ネットワーク {spec.network!r} は存在しません")
    if (spec.mode is not Mode.HOST and not netns_made
            and spec.container not in mgr.backend.netns_list()):
        raise FieldError("container", f"namespace {spec.container!r} does not exist",
                         ja=f"名前空間 {spec.container!r} は存在しません"
                            "（--create-netns で作れます）")
    for ep in mgr.state.container_endpoints(spec.container):
        if ep.network == spec.network:
            raise FieldError("container", f"{spec.container!r} is connected to "
                                          f"{spec.network!r} already",
                             ja=f"{spec.container!r} はすでに {spec.network!r} に"
                                "接続されています")
        if ep.mode is not Mode.BRIDGE or spec.mode is not Mode.BRIDGE:
            raise FieldError("network", f"{spec.container!r} is in {ep.network!r}: modes host "
                                        "and none exclude every other network",
                             ja=f"{spec.container!r} は {ep.network!r} にあります: host と "
                                "none のモードは他のネットワークと併用できません")
        if ep.ifname == spec.ifname:
            raise FieldError("ifname", f"{spec.container!r} has {spec.ifname!r} already "
                                       f"(network {ep.network!r})",
                             ja=f"{spec.container!r} にはすでに {spec.ifname!r} があります"
                                f"（ネットワーク {ep.network!r}）")
    for port in spec.ports:
        _check_port(mgr, port)
    return net


def _check_port(mgr: Collaborators, port: PortMapping) -> None:
    holder = mgr.state.port_holder(port)
    if holder is not None:
        raise FieldError("ports", f"host port {port} is published by {holder} already",
                         ja=f"ホストのポート {port} はすでに {holder} が公開しています")


def _claim_ports(mgr: Collaborators, record: EndpointRecord) -> None:
    """Check and record the host ports under the world lock: two connects cannot both take
    one port, whatever process they run in."""
    owner = f"{record.network}/{record.container}"
    with mgr.state.locked():
        for port in record.ports:
            _check_port(mgr, port)
        for port in record.ports:
            mgr.state.claim_port(port, owner)


def _release_ports(mgr: Collaborators, record: EndpointRecord) -> None:
    with mgr.state.locked():
        mgr.state.release_ports(f"{record.network}/{record.container}", record.ports)


def _plan_record(mgr: Collaborators, spec: EndpointSpec,
                 net: NetworkSpec | None) -> EndpointRecord:
    """The record as far as it is known before anything changes: what a DEL after a crash
    at any later step needs to find and remove (the host-side veth's name, whether loopback
    was down, the resolv.conf to put back)."""
    record = EndpointRecord(container=spec.container, network=spec.network, mode=spec.mode)
    if spec.mode is Mode.HOST:
        return record
    backend, cns = mgr.backend, spec.container
    lo_bare = not backend.addr_list(cns, "lo")
    record = replace(record, lo_was_up=backend.link_get(cns, "lo").up,
                     extra={"lo_bare": True} if lo_bare else {})
    if net is None:
        return record
    record = replace(
        record, ifname=spec.ifname, host_ifname=host_ifname(net.name, cns),
        prefixlen=net.prefixlen, gateway=net.gateway, ports=spec.ports,
        ingress_bps=spec.ingress_bps, egress_bps=spec.egress_bps, dns=spec.dns or net.dns,
        default_route=not any(r.dst == "default" for r in backend.route_list(cns)))
    if record.dns:
        previous = backend.etc_read(cns, RESOLV_CONF)
        if previous is not None:
            record = replace(record, extra={**record.extra, "resolv_prev": previous})
    return record


def connect(mgr: Collaborators, plan: Plan, spec: EndpointSpec, *, op: str = "",
            create_netns: bool = False) -> EndpointRecord:
    """Join `spec.container` to its network, as steps of `plan` (all or nothing). `op` (the
    journal entry's id) is written into the record; `create_netns` makes the namespace first."""
    state, backend, cns = mgr.state, mgr.backend, spec.container
    if create_netns:
        plan.step("create-netns", lambda: backend.netns_add(cns),
                  gone_ok(lambda: backend.netns_delete(cns)))
    net = validate(mgr, spec)
    record = _plan_record(mgr, spec, net)
    if op:
        record = replace(record, extra={**record.extra, OP_KEY: op})

    def claim() -> None:
        if not state.claim_endpoint(record):
            raise FieldError("container", f"{cns!r} is being connected to "
                                          f"{spec.network!r} already",
                             ja=f"{cns!r} はすでに {spec.network!r} への接続の途中です")

    plan.step("claim-endpoint", claim, lambda _: state.remove_endpoint(spec.network, cns))
    if record.ports:
        plan.step("claim-ports", lambda: _claim_ports(mgr, record),
                  lambda _: _release_ports(mgr, record))
    if spec.mode is not Mode.HOST and not record.lo_was_up:
        plan.step("loopback-up", lambda: backend.link_set_up(cns, "lo"),
                  gone_ok(lambda: _loopback_down(mgr, cns, record)))
    if net is None:
        record = replace(record, active=True)
        plan.step("record-endpoint", lambda: state.put_endpoint(record))
        return record
    return _connect_bridge(mgr, plan, spec, net, record)


def _connect_bridge(mgr: Collaborators, plan: Plan, spec: EndpointSpec, net: NetworkSpec,
                    record: EndpointRecord) -> EndpointRecord:
    backend, host, cns = mgr.backend, mgr.host_ns, spec.container
    hif, allocator = record.host_ifname, mgr.allocator(net)
    address = plan.step("allocate-address", lambda: allocator.allocate(cns, spec.ip),
                        lambda _: allocator.release(cns))
    ip = str(address)
    # Not recorded yet: a DEL after a crash finds the address (and so the MAC) in IPAM.
    record = replace(record, ip=ip, mac=mac_for(ip))
    active = replace(record, active=True)
    # The rules name the host-side veth and the address, not the links themselves, so they
    # can go in first, and (with an executor) while the links are built: the tool processes
    # (ebtables, iptables-restore) cost more than all the netlink requests together. A rule
    # naming a link that does not exist yet matches nothing.
    if net.antispoof:
        plan.spawn("mac-antispoof",
                   lambda: backend.ebtables_restore(host, ebtables_spoof_text(record, "-A")),
                   lambda _: _remove_antispoof(mgr, record))

    def publish() -> None:
        # The record turns active together with the rules, under the lock: a full re-render
        # by another process (a network created) then keeps them.
        with mgr.state.locked():
            _apply_endpoint_rules(mgr, net, active, "-A")
            mgr.state.put_endpoint(active)

    def unpublish(_: object) -> None:
        with mgr.state.locked():
            mgr.state.put_endpoint(record)
            _apply_endpoint_rules(mgr, net, active, "-D")

    plan.spawn("iptables", publish, unpublish)
    # Created with the container end already in its namespace and named: no window in which
    # a half-made interface with a temporary name sits in the host namespace.
    plan.step("create-veth",
              lambda: backend.veth_add(host, hif, spec.ifname, cns, mtu=net.mtu),
              gone_ok(lambda: backend.link_delete(host, hif)))
    plan.step("container-mac", lambda: backend.link_set_mac(cns, spec.ifname, record.mac))
    plan.step("attach-to-bridge", lambda: backend.link_set_master(host, hif, net.bridge))
    if net.antispoof:
        # The bridge learns a frame's source MAC before ebtables' FORWARD/INPUT see it
        # (br_handle_frame_finish -> br_fdb_update), so a dropped forged frame would still
        # steer a neighbour's traffic to this port. No learning on the port, and the one
        # MAC it may use pinned to it, make the FDB immune to that.
        plan.step("port-no-learning",
                  lambda: backend.bridge_port_set(host, hif, learning=False))
        plan.step("static-fdb", lambda: backend.fdb_add(host, hif, record.mac))
    if spec.ports:
        # Hairpin: a container reaching its own published port through the host address gets
        # the DNATed packet back out of the port it came in by (bridge drops that otherwise).
        plan.step("port-hairpin", lambda: backend.bridge_port_set(host, hif, hairpin=True))
    plan.step("host-side-up", lambda: backend.link_set_up(host, hif))
    plan.step("container-address",
              lambda: backend.addr_add(cns, spec.ifname, f"{ip}/{net.prefixlen}"))
    plan.step("container-side-up", lambda: backend.link_set_up(cns, spec.ifname))
    if record.default_route:
        plan.step("default-route",
                  lambda: backend.route_add(cns, "default", gateway=net.gateway,
                                            dev=spec.ifname))
    if spec.ingress_bps:
        rate = spec.ingress_bps
        # tbf on the host side shapes what the bridge sends down the veth: the container's
        # ingress. (Shaping arrivals needs an ifb/police; egress qdiscs are what tc shapes.)
        plan.step("bandwidth-ingress", lambda: backend.tc_tbf_set(
            host, hif, rate_bps=rate, burst=tbf_burst(rate, net.mtu), latency=TBF_LATENCY))
    if spec.egress_bps:
        rate_out = spec.egress_bps
        plan.step("bandwidth-egress", lambda: backend.tc_tbf_set(
            cns, spec.ifname, rate_bps=rate_out, burst=tbf_burst(rate_out, net.mtu),
            latency=TBF_LATENCY))
    if record.dns:
        text = "".join(f"nameserver {server}\n" for server in record.dns)
        previous = record.extra.get("resolv_prev")
        plan.step("dns", lambda: backend.etc_write(cns, RESOLV_CONF, text),
                  lambda _: _restore_file(mgr, cns, RESOLV_CONF, previous))
    plan.join()
    return active


def _remove_antispoof(mgr: Collaborators, record: EndpointRecord) -> None:
    """Delete the endpoint's MAC anti-spoofing rules, in one ebtables-restore. When one of them
    is gone already (a connect killed between the two, a hand edit), that batch fails whole
    (ENOENT) and removes nothing: then each goes alone, a missing one counting as removed."""
    backend, host = mgr.backend, mgr.host_ns
    try:
        backend.ebtables_restore(host, ebtables_spoof_text(record, "-D"))
    except NotFound:
        for argv in ebtables_spoof_rules(record):
            delete = ["-D", *argv[1:]]
            if_present(lambda: backend.ebtables(host, delete))  # noqa: B023 - called at once


def _loopback_down(mgr: Collaborators, ns: str, record: EndpointRecord) -> None:
    """Loopback as it was: down, and without the 127.0.0.1/8 the kernel gave it when it came
    up (inetdev_event adds it on NETDEV_UP and leaves it on NETDEV_DOWN)."""
    mgr.backend.link_set_up(ns, "lo", False)
    if record.extra.get("lo_bare"):
        if_present(lambda: mgr.backend.addr_delete(ns, "lo", "127.0.0.1/8"))


def _apply_endpoint_rules(mgr: Collaborators, net: NetworkSpec, record: EndpointRecord,
                          verb: str) -> None:
    """Append or delete one endpoint's rules in one iptables-restore. A delete that finds a
    rule missing (a crash, a hand edit) falls back to re-rendering every chain from the
    state, which is always right, only slower. Caller holds the world lock."""
    text = change_text(endpoint_rules(net, record), verb)
    if not text:
        return
    try:
        mgr.backend.iptables_restore(mgr.host_ns, text)
    except BackendError:
        if verb != "-D":
            raise
        mgr.rerender_without(record.key)


def _restore_file(mgr: Collaborators, ns: str, name: str, previous: str | None) -> None:
    if previous is None:
        if_present(lambda: mgr.backend.etc_delete(ns, name))
    else:
        if_present(lambda: mgr.backend.etc_write(ns, name, previous))


def disconnect(mgr: Collaborators, network: str, container: str, *,
               delete_netns: bool = False) -> bool:
    """Undo a connect; False when no record existed. Idempotent: what is already gone (the
    container's namespace, and with it the veth) counts as removed; what remains is removed.
    `delete_netns` then deletes the container's namespace (when it exists)."""
    state, backend, host = mgr.state, mgr.backend, mgr.host_ns
    record = state.endpoint(network, container)
    net = state.network(network)
    if record is None and net is None:
        if delete_netns:
            _delete_netns(mgr, container)
        return False
    if record is None:
        # No record, but a crash may have left a link or an address behind: look for both.
        assert net is not None
        record = EndpointRecord(container=container, network=network, mode=Mode.BRIDGE,
                                host_ifname=host_ifname(network, container))
    if record.mode is Mode.BRIDGE and not record.ip and net is not None:
        # Killed before the record learnt its address: IPAM knows it, and so the MAC.
        address = mgr.allocator(net).lookup(container)
        if address is not None:
            record = replace(record, ip=str(address), mac=mac_for(str(address)))
    job = mgr.cleanup("disconnect")
    if record.mode is Mode.BRIDGE:
        # Also when not active: a connect killed inside its last step may have applied the
        # rules without recording it (the delete then falls back to a full re-render).
        def deactivate() -> None:
            with state.locked():
                state.put_endpoint(replace(record, active=False))
                if net is None or not record.ip:
                    mgr.rerender_without(record.key)
                else:
                    _apply_endpoint_rules(mgr, net, replace(record, active=True), "-D")

        job.spawn("iptables", deactivate)
        if record.ports:
            job.step("release-ports", lambda: _release_ports(mgr, record))
        if record.mac and (net is None or net.antispoof):
            job.spawn("mac-antispoof", lambda: _remove_antispoof(mgr, record))
        job.step("delete-veth", lambda: backend.link_delete(host, record.host_ifname))
        if record.dns:
            job.step("dns", lambda: _restore_file(mgr, container, RESOLV_CONF,
                                                  record.extra.get("resolv_prev")))
        if net is not None:
            job.step("release-address", lambda: mgr.allocator(net).release(container))
    others = [e for e in state.container_endpoints(container) if e.key != record.key]
    if record.mode is not Mode.HOST and not record.lo_was_up and not others:
        job.step("loopback-down", lambda: _loopback_down(mgr, container, record))
    job.join()  # the record goes last: a retry after a failure needs what it says
    if not job.errors:
        job.step("forget-endpoint", lambda: state.remove_endpoint(network, container))
        if delete_netns:
            job.step("delete-netns", lambda: _delete_netns(mgr, container))
    job.finish()
    return True


def _delete_netns(mgr: Collaborators, ns: str) -> None:
    if ns in mgr.backend.netns_list():
        mgr.backend.netns_delete(ns)
