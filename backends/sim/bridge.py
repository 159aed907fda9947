"""The Linux bridge's forwarding of frames (net/bridge/br_input.c, br_forward.c, br_device.c).

Layering: a protocol handler, above the world. The bridge's data (ports with STP states, the
forwarding database, the bridge carrier) is in `devices.py`; this module registers the
bridge's receive function for the frames of its ports (netdev_rx_handler_register) and its
transmit function for the bridge device (ndo_start_xmit), and calls the NF_BR_* hook points.

Follows net/bridge: br_handle_frame (ingress: learn, then forward / flood / pass up),
br_dev_xmit (frames the bridge device itself sends), should_deliver (only FORWARDING ports,
never back out of the ingress port unless hairpin). Port states, FDB ageing and the bridge
carrier are evaluated lazily against the virtual clock instead of with timers.
"""

from __future__ import annotations

from ctrnet.backends.sim.devices import BridgeState, Port
from ctrnet.backends.sim.hooks import Hook
from ctrnet.backends.sim.packet import Frame, is_multicast_mac
from ctrnet.backends.sim.world import World, netdev_rx_handler_register, register_br_dev_xmit
from ctrnet.types import PortState


# -- forwarding --------------------------------------------------------------------------------
def _should_deliver(port: Port, ingress: Port | None, now: float) -> bool:
    return (port is not ingress or port.hairpin) and port.state(now) == PortState.FORWARDING


def _egress(world: World, br: BridgeState, port: Port, frame: Frame,
            ingress: Port | None) -> None:
    """__br_forward: LOCAL_OUT for what the bridge device sends, FORWARD for what it bridges,
    then POSTROUTING (ebtables and, for IPv4, br_netfilter's iptables)."""
    hooks = world.hooks
    out = hooks.bridge(Hook.BR_FORWARD if ingress is not None else Hook.BR_LOCAL_OUT, br, frame,
                       ingress, port)
    if out is not None:
        out = hooks.bridge(Hook.BR_POSTROUTING, br, out, ingress, port)
    if out is not None:
        world.xmit(port.dev, out)


def _flood(world: World, br: BridgeState, frame: Frame, ingress: Port | None,
           now: float) -> None:
    for port in br.ports.values():
        if _should_deliver(port, ingress, now):
            _egress(world, br, port, frame, ingress)


def _pass_up(world: World, br: BridgeState, frame: Frame, ingress: Port) -> None:
    out = world.hooks.bridge(Hook.BR_LOCAL_IN, br, frame, ingress, None)
    if out is not None:
        world.stack_receive(br.dev, out)


def bridge_receive(world: World, port: Port, frame: Frame) -> None:
    """br_handle_frame: a frame arriving on `port`."""
    br = port.br
    now = world.clock.now()
    br.gc_until(now)
    state = port.state(now)
    if state != PortState.FORWARDING and state != PortState.LEARNING:
        return  # DISABLED/LISTENING/BLOCKING ports take in nothing (BPDUs aside)
    if port.learning and not is_multicast_mac(frame.src):
        br.learn(port, frame.src, now)
    if state == PortState.LEARNING:
        return
    hooked = world.hooks.bridge(Hook.BR_PREROUTING, br, frame, port, None)
    if hooked is not None:
        bridge_finish(world, port, hooked, now)


def bridge_finish(world: World, port: Port, frame: Frame, now: float) -> None:
    """br_handle_frame_finish: deliver locally, forward, or flood a frame from `port`."""
    br = port.br
    if is_multicast_mac(frame.dst):
        _flood(world, br, frame, port, now)
        _pass_up(world, br, frame, port)
        return
    rec = br.lookup(frame.dst, now)
    if rec is None:
        # Unknown unicast is flooded, and not passed up unless the bridge is promiscuous.
        _flood(world, br, frame, port, now)
    elif rec.local:
        _pass_up(world, br, frame, port)
    elif rec.port is not None and _should_deliver(rec.port, port, now):
        _egress(world, br, rec.port, frame, port)


def bridge_xmit(world: World, br: BridgeState, frame: Frame) -> None:
    """br_dev_xmit: a frame the bridge device's own stack sends."""
    now = world.clock.now()
    resumed = world.hooks.bridged_dnat(br, frame)
    if resumed is not None:
        # br_nf_prerouting_finish_bridge: a DNATed frame whose new neighbour had to be
        # resolved first goes on being bridged from the port it came in by.
        port, frame = resumed
        bridge_finish(world, port, frame, now)
        return
    if is_multicast_mac(frame.dst):
        _flood(world, br, frame, None, now)
        return
    rec = br.lookup(frame.dst, now)
    if rec is None:
        _flood(world, br, frame, None, now)
    elif rec.port is not None and not rec.local and _should_deliver(rec.port, None, now):
        _egress(world, br, rec.port, frame, None)


netdev_rx_handler_register(bridge_receive)
register_br_dev_xmit(bridge_xmit)
