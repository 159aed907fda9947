"""`ctrnet capture`, `trace`, `doctor` and `topology`: the troubleshooting commands. They act
on the same world as `ctrnet network …` (`cli_network.open_world`, in the state directory of
`default_state_dir`: per user without root) and take network and container names from its
state when there is one. Human output follows `--lang`; `--json` is for scripts.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from ctrnet import names
from ctrnet.backend import Backend
from ctrnet.cli_network import _arg, _common, count_arg, open_world, seconds_arg
from ctrnet.errors import InvalidConfig, NotFound, from_errno
from ctrnet.i18n import say
from ctrnet.network import EndpointRecord, Mode
from ctrnet.state import StateStore, default_state_dir
from ctrnet.troubleshoot import pcap, tcpdump_format, topology, tracetext
from ctrnet.troubleshoot.checks import diagnose
from ctrnet.troubleshoot.doctor import Container, Net, Report, discover, stranded
from ctrnet.troubleshoot.trace import PROTOS
from ctrnet.troubleshoot.wire import decode

__all__ = ["add_commands", "doctor_scope", "resolve_ns"]


def _state_dir(args: argparse.Namespace) -> str:
    return str(args.state_dir or default_state_dir(args.backend))


def _store(state_dir: str) -> StateStore | None:
    return StateStore(state_dir) if os.path.isdir(os.path.join(state_dir, "networks")) \
        or os.path.isdir(os.path.join(state_dir, "endpoints")) else None


def _records(state: StateStore | None) -> list[EndpointRecord]:
    return state.endpoints() if state is not None else []


def resolve_ns(world: Backend, state: StateStore | None, name: str) -> str:
    """The namespace a command names: a namespace, or a container in host mode, which
    shares the host's (as with Docker's --network host)."""
    if name == world.host_ns or name in world.netns_list():
        return name
    if any(r.container == name and r.mode is Mode.HOST for r in _records(state)):
        return world.host_ns
    # Said here rather than by the backend, so that it reads the same on every backend and
    # in both languages (the simulator's own words, the kernel's errno).
    raise from_errno(errno.ENOENT, f"namespace {name!r} does not exist",
                     ja=f"名前空間 {name!r} は存在しません")


# -- capture -----------------------------------------------------------------------------------
def _packet_json(record: pcap.Record, line: str) -> dict[str, Any]:
    d = decode(record.data)
    fields = {k: v for k, v in asdict(d).items() if v is not None and k != "tcp_options"}
    return {"time": record.time, "length": record.wire_length, "summary": line, **fields}


def _capture(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    with open_world(args.backend, state_dir) as world:
        ns = resolve_ns(world, _store(state_dir), args.ns)
        if all(link.name != args.ifname for link in world.link_list(ns)):
            raise NotFound(f"device {args.ifname!r} not found in namespace {ns!r}", errno.ENODEV,
                           ja=f"名前空間 {ns!r} にデバイス {args.ifname!r} はありません")
        filt = " ".join(args.filter) or None
        cap = world.capture_start(ns, args.ifname, filter=filt)
        if args.progress or (sys.stderr.isatty() and not args.json):
            what = (say(f"pinging {args.ping} x{args.count}",
                        f"{args.ping} へ ping {args.count} 回") if args.ping
                    else say(f"for {args.duration:g} s", f"{args.duration:g} 秒間"))
            print(say(f"capturing on {args.ns}/{args.ifname} {what}…",
                      f"{args.ns}/{args.ifname} でキャプチャ中（{what}）…"), file=sys.stderr)
        try:
            if args.ping:
                world.ping(ns, args.ping, count=args.count, timeout=1.0)
            else:
                world.sleep(args.duration)
        finally:
            data = cap.stop()
    records = pcap.read(data)
    if args.write:
        with open(args.write, "wb") as out:
            out.write(data)
        print(say(f"{len(records)} packets captured on {args.ns}/{args.ifname}, written to "
                  f"{args.write}",
                  f"{args.ns}/{args.ifname} で {len(records)} パケットをキャプチャし、{args.write} "
                  "に書いた"), file=sys.stderr)
    texts = tcpdump_format.lines(records)
    if args.json:
        print(json.dumps({"ns": args.ns, "ifname": args.ifname, "filter": filt,
                          "file": args.write,
                          "packets": [_packet_json(r, t) for r, t in zip(records, texts,
                                                                         strict=True)]},
                         indent=2))
    elif not args.write:
        for line in texts:
            print(line)
    return 0


# -- trace -------------------------------------------------------------------------------------
def parse_target(text: str) -> tuple[str, int | None]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, ""
    elif not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidConfig(f"--to {text!r}: the port must be 1-65535",
                            ja=f"--to {text!r}: ポートは 1-65535 です")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:  # the backends' own words for it, the same on each
        raise from_errno(errno.EINVAL, f"bad IPv4 address {host!r}",
                         ja=f"{host!r} は正しい IPv4 アドレスではありません") from None
    return host, int(port) if port else None


def _trace(args: argparse.Namespace) -> int:
    dst, port = parse_target(args.to)
    proto = args.proto or ("tcp" if port is not None else "icmp")
    if proto != "icmp" and port is None:
        raise InvalidConfig(f"a {proto} trace needs a port: --to {dst}:PORT",
                            ja=f"{proto} のトレースにはポートが必要です: --to {dst}:PORT")
    state_dir = _state_dir(args)
    with open_world(args.backend, state_dir) as world:
        src = resolve_ns(world, _store(state_dir), args.src)
        result = world.trace(src, dst, proto=proto, port=port if proto != "icmp" else None,
                             timeout=args.timeout)
    if args.json:
        print(json.dumps(asdict(result), indent=2, default=str))
    else:
        print(tracetext.render(result))
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
                                            ep.ip or None) for ep in eps), spec.icc))
    known = {n.bridge for n in nets}
    nets += [n for n in discover(world) if n.bridge not in known]
    everything = say("all networks", "すべてのネットワーク")
    if name is None:
        return nets, stranded(world, (c.ns for n in nets for c in n.containers)), everything
    chosen = [n for n in nets if name in (n.name, n.bridge)]
    if chosen:
        return chosen, [], say(f"network {name}", f"ネットワーク {name}")
    holding = [Net(n.name, n.bridge, n.subnet, n.gateway, n.masquerade,
                   tuple(c for c in n.containers if c.ns == name), n.icc)
               for n in nets if any(c.ns == name for c in n.containers)]
    scope = say(f"container {name}", f"コンテナ {name}")
    if holding:
        return holding, [], scope
    if name in world.netns_list():
        # A namespace on no bridge: check it on its own, each of its veths a container end.
        ends = [Container(name, lk.name, lk.peer if lk.peer_ns == world.host_ns else None)
                for lk in world.link_list(name) if lk.kind.value == "veth"]
        return [], ends or [Container(name, "eth0")], scope
    if any(r.container == name and r.mode is not Mode.BRIDGE for r in _records(state)):
        return [], [], scope  # host or none mode: nothing of its own to check
    raise InvalidConfig(f"no network, bridge or container named {name!r}",
                        ja=f"{name!r} という名前のネットワーク・ブリッジ・コンテナはありません")


def _doctor(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    state = _store(state_dir)
    with open_world(args.backend, state_dir) as world:
        nets, containers, scope = doctor_scope(world, state, args.name)
        report: Report = diagnose(world, nets, scope=scope, containers=containers)
    if args.json:
        print(json.dumps({"scope": report.scope, "checks": report.checks,
                          "findings": [asdict(f) for f in report.findings]}, indent=2,
                         ensure_ascii=False))
    else:
        print(report.render())
    return 0 if report.healthy else 1


# -- topology ----------------------------------------------------------------------------------
def _topology(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    with open_world(args.backend, state_dir) as world:
        topo = topology.collect(world, _records(_store(state_dir)))
    if args.json:
        output: bytes = (json.dumps(topology.as_dict(topo), indent=2) + "\n").encode()
    elif args.format == "text":
        output = (topology.text(topo) + "\n").encode()
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
                       help=say("capture packets on an interface (pcap file or tcpdump lines)",
                                "インターフェースのパケットをキャプチャする（pcap ファイルか "
                                "tcpdump 形式）"))
    # The one name rule (ctrnet.names): a bad name is a usage error before anything opens.
    p.add_argument("ns", type=_arg(names.netns), help=say("namespace (host, or a container's)",
                                  "名前空間（host かコンテナのもの）"))
    p.add_argument("ifname", type=_arg(names.ifname),
                   help=say("interface to capture on", "キャプチャするインターフェース"))
    p.add_argument("filter", nargs="*",
                   help=say("pcap-filter: host/net/port/tcp/udp/icmp/arp",
                            "pcap-filter の式: host/net/port/tcp/udp/icmp/arp"))
    p.add_argument("-w", "--write", metavar="FILE",
                   help=say("write a pcap file (tcpdump -r, Wireshark read it); default: "
                            "print tcpdump's lines",
                            "pcap ファイルに書く（tcpdump -r や Wireshark で読める）。既定: "
                            "tcpdump 形式の行を表示する"))
    p.add_argument("--duration", type=_arg(seconds_arg), default=1.0,
                   help=say("seconds to capture for (simulator: virtual seconds)",
                            "キャプチャする秒数（シミュレータでは仮想の秒）"))
    p.add_argument("--ping", metavar="ADDR",
                   help=say("send pings from NS while capturing",
                            "キャプチャしながら NS から ping を送る"))
    p.add_argument("-c", "--count", type=_arg(count_arg), default=1,
                   help=say("pings to send (with --ping)", "送る ping の数（--ping と共に）"))
    p.set_defaults(func=_capture)

    p = sub.add_parser("trace", parents=[common],
                       help=say("follow one packet and its reply hop by hop",
                                "1 つのパケットとその返信をホップごとに追う"))
    p.add_argument("--from", dest="src", required=True, metavar="NS", type=_arg(names.netns),
                   help=say("the namespace the packet leaves from (a container, or host)",
                            "パケットを送り出す名前空間（コンテナか host）"))
    p.add_argument("--to", required=True, metavar="ADDR[:PORT]",
                   help=say("the destination address, and port for tcp/udp",
                            "宛先のアドレス（tcp/udp ではポートも）"))
    p.add_argument("--proto", choices=PROTOS,
                   help=say("default: tcp with a port, else icmp",
                            "既定: ポートがあれば tcp、なければ icmp"))
    p.add_argument("--timeout", type=_arg(seconds_arg), default=1.0,
                   help=say("seconds to wait for the reply (default: 1)",
                            "返信を待つ秒数（既定: 1）"))
    p.set_defaults(func=_trace)

    p = sub.add_parser("doctor", parents=[common],
                       help=say("find the usual problems of a network or container",
                                "ネットワークやコンテナのよくある問題を見つける"))
    # Any of the three: the netns rule admits every valid network, bridge and container name.
    p.add_argument("name", nargs="?", type=_arg(names.netns),
                   help=say("a network, bridge or container (default: all)",
                            "ネットワーク・ブリッジ・コンテナ（既定: すべて）"))
    p.set_defaults(func=_doctor)

    p = sub.add_parser("topology", parents=[common],
                       help=say("draw namespaces, veths, bridges, addresses, published ports",
                                "名前空間・veth・ブリッジ・アドレス・公開ポートを描く"))
    p.add_argument("--format", choices=("text", "dot", "svg"), default="text",
                   help=say("text for people, Graphviz dot, or an SVG drawing (default: text)",
                            "人向けの text、Graphviz の dot、SVG の図（既定: text）"))
    p.add_argument("-o", "--output", metavar="FILE",
                   help=say("write to FILE instead of stdout",
                            "標準出力の代わりに FILE に書く"))
    p.set_defaults(func=_topology)
