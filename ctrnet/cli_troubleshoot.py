"""`ctrnet capture`, `trace`, `doctor` and `topology`: the troubleshooting commands. They act
on the same world as `ctrnet network …` (`cli_network.open_world`) and take network and
container names from its state when there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from ctrnet import names
from ctrnet.backend import Backend
from ctrnet.cli_network import _arg, _common, open_world
from ctrnet.errors import InvalidConfig
from ctrnet.state import StateStore, default_state_dir
from ctrnet.troubleshoot import pcap, tcpdump_format, topology
from ctrnet.troubleshoot.doctor import Container, Net, Report, diagnose, discover
from ctrnet.troubleshoot.trace import PROTOS

__all__ = ["add_commands", "doctor_scope"]


def _state_dir(args: argparse.Namespace) -> str:
    return str(args.state_dir or default_state_dir(args.backend))


# -- capture -----------------------------------------------------------------------------------
def _capture(args: argparse.Namespace) -> int:
    with open_world(args.backend, _state_dir(args)) as world:
        filt = " ".join(args.filter) or None
        cap = world.capture_start(args.ns, args.ifname, filter=filt)
        try:
            if args.ping:
                world.ping(args.ns, args.ping, count=args.count, timeout=1.0)
            else:
                world.sleep(args.duration)
        finally:
            data = cap.stop()
    records = pcap.read(data)
    if args.write:
        with open(args.write, "wb") as out:
            out.write(data)
        print(f"{len(records)} packets captured on {args.ns}/{args.ifname}, written to "
              f"{args.write}", file=sys.stderr)
    else:
        for line in tcpdump_format.lines(records):
            print(line)
    return 0


# -- trace -------------------------------------------------------------------------------------
def parse_target(text: str) -> tuple[str, int | None]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidConfig(f"--to {text!r}: the port must be 1-65535")
    return host, int(port)


def _trace(args: argparse.Namespace) -> int:
    dst, port = parse_target(args.to)
    proto = args.proto or ("tcp" if port is not None else "icmp")
    if proto != "icmp" and port is None:
        raise InvalidConfig(f"a {proto} trace needs a port: --to {dst}:PORT")
    with open_world(args.backend, _state_dir(args)) as world:
        result = world.trace(args.src, dst, proto=proto, port=port if proto != "icmp" else None,
                             timeout=args.timeout)
    if args.json:
        print(json.dumps(asdict(result), indent=2, default=str))
    else:
        print(result.render())
    return 0 if result.outcome == "answered" else 1


# -- doctor ------------------------------------------------------------------------------------
def doctor_scope(world: Backend, state: StateStore | None,
                 name: str | None) -> tuple[list[Net], list[Container], str]:
    """The networks and containers `ctrnet doctor [NAME]` checks, and how to call them."""
    nets: list[Net] = []
    if state is not None:
        for spec in state.networks():
            eps = [ep for ep in state.endpoints(spec.name) if ep.ifname]
            nets.append(Net(spec.name, spec.bridge, spec.subnet, spec.gateway, spec.masquerade,
                            tuple(Container(ep.container, ep.ifname, ep.host_ifname or None,
                                            ep.ip or None) for ep in eps)))
    known = {n.bridge for n in nets}
    nets += [n for n in discover(world) if n.bridge not in known]
    if name is None:
        return nets, [], "all networks"
    chosen = [n for n in nets if name in (n.name, n.bridge)]
    if chosen:
        return chosen, [], f"network {name}"
    holding = [Net(n.name, n.bridge, n.subnet, n.gateway, n.masquerade,
                   tuple(c for c in n.containers if c.ns == name))
               for n in nets if any(c.ns == name for c in n.containers)]
    if holding:
        return holding, [], f"container {name}"
    if name in world.netns_list():
        # A namespace on no bridge: check it on its own, each of its veths a container end.
        ends = [Container(name, lk.name, lk.peer if lk.peer_ns == world.host_ns else None)
                for lk in world.link_list(name) if lk.kind.value == "veth"]
        return [], ends or [Container(name, "eth0")], f"container {name}"
    raise InvalidConfig(f"no network, bridge or container named {name!r}")


def _doctor(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    state = StateStore(state_dir) if os.path.isdir(state_dir) else None
    with open_world(args.backend, state_dir) as world:
        nets, containers, scope = doctor_scope(world, state, args.name)
        report: Report = diagnose(world, nets, scope=scope, containers=containers)
    if args.json:
        print(json.dumps({"scope": report.scope, "checks": report.checks,
                          "findings": [asdict(f) for f in report.findings]}, indent=2))
    else:
        print(report.render())
    return 0 if report.healthy else 1


# -- topology ----------------------------------------------------------------------------------
def _topology(args: argparse.Namespace) -> int:
    with open_world(args.backend, _state_dir(args)) as world:
        topo = topology.collect(world)
    if args.format == "text":
        output: bytes = (topology.text(topo) + "\n").encode()
    elif args.format == "dot":
        output = topology.dot(topo).encode()
    else:
        output = topology.svg(topology.dot(topo))
    if args.output:
        with open(args.output, "wb") as out:
            out.write(output)
    else:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = _common()
    p = sub.add_parser("capture", parents=[common],
                       help="capture packets on an interface (pcap file or tcpdump lines)")
    p.add_argument("ns", type=_arg(names.netns), help="namespace (host, or a container's)")
    p.add_argument("ifname", type=_arg(names.ifname), help="interface to capture on")
    p.add_argument("filter", nargs="*", help="pcap-filter: host/net/port/tcp/udp/icmp/arp")
    p.add_argument("-w", "--write", metavar="FILE", help="write a pcap file (tcpdump -r, "
                   "Wireshark read it); default: print tcpdump's lines")
    p.add_argument("--duration", type=float, default=1.0,
                   help="seconds to capture for (simulator: virtual seconds)")
    p.add_argument("--ping", metavar="ADDR", help="send pings from NS while capturing")
    p.add_argument("-c", "--count", type=int, default=1, help="pings to send (with --ping)")
    p.set_defaults(func=_capture)

    p = sub.add_parser("trace", parents=[common],
                       help="follow one packet and its reply hop by hop")
    p.add_argument("--from", dest="src", required=True, metavar="NS", type=_arg(names.netns))
    p.add_argument("--to", required=True, metavar="ADDR[:PORT]")
    p.add_argument("--proto", choices=PROTOS, help="default: tcp with a port, else icmp")
    p.add_argument("--timeout", type=float, default=1.0)
    p.set_defaults(func=_trace)

    p = sub.add_parser("doctor", parents=[common],
                       help="find the usual problems of a network or container")
    # Any of the three: the netns rule admits every valid network, bridge and container name.
    p.add_argument("name", nargs="?", type=_arg(names.netns),
                   help="a network, bridge or container (default: all)")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("topology", parents=[common],
                       help="draw namespaces, veths, bridges, addresses, published ports")
    p.add_argument("--format", choices=("text", "dot", "svg"), default="text")
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(func=_topology)
