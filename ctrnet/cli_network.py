"""`ctrnet network create|ls|inspect|rm`, `connect`, `disconnect`, `ps`, `gc`: the reference
model on the command line. Tables for people, `--json` for scripts, progress on stderr.

The world a command acts on comes from `open_world`: the backend's persistent world in the
state directory when it offers one (`open_backend(name, state_dir=…)`), the simulator's
pickled world otherwise; tests inject a shared backend with `injected(backend)` and run a
sequence of `main([...])` calls in one process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

from ctrnet import names
from ctrnet.backend import THREAD_SAFE, Backend
from ctrnet.errors import InvalidConfig, oserror_ja
from ctrnet.i18n import say
from ctrnet.manager import NetworkManager
from ctrnet.network import (
    MAX_RATE_BPS,
    MIN_RATE_BPS,
    EndpointRecord,
    EndpointSpec,
    FieldError,
    Mode,
    NetworkSpec,
    PortMapping,
)
from ctrnet.plan import crash_hook_from_env
from ctrnet.registry import REGISTRY, open_backend
from ctrnet.state import default_state_dir

__all__ = ["add_commands", "injected", "open_world", "parse_rate"]

_injected: list[Backend] = []
_T = TypeVar("_T")
_RATE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|bps)?", re.IGNORECASE | re.ASCII)
_UNITS = {"": 1, "bit": 1, "bps": 8, "kbit": 1000, "mbit": 1000**2, "gbit": 1000**3}


@contextlib.contextmanager
def injected(backend: Backend) -> Iterator[Backend]:
    """Within the block, every command acts on `backend` (not opened, not closed by it)."""
    _injected.append(backend)
    try:
        yield backend
    finally:
        _injected.remove(backend)


@contextlib.contextmanager
def open_world(name: str, state_dir: str) -> Iterator[Backend]:
    """The world of `state_dir` on backend `name`, kept between invocations when it can be."""
    if _injected:
        yield _injected[-1]
        return
    world_dir = os.path.join(state_dir, "world")
    try:
        os.makedirs(world_dir, mode=0o700, exist_ok=True)
    except OSError as exc:  # a file where the directory should be, no permission, …
        raise InvalidConfig(f"state directory {names.shown(state_dir, 80)} cannot be used: "
                            f"{exc.strerror or exc}",
                            ja=f"状態ディレクトリ {names.shown(state_dir, 80)} を使えません: "
                               f"{oserror_ja(exc)}") from exc
    with open_backend(name, state_dir=world_dir) as backend:
        yield backend


def parse_rate(text: str) -> int:
    """tc-style rates: "10mbit", "500kbit", "1gbit", "8000" (bit/s), "125000bps" (bytes/s),
    within MIN_RATE_BPS..MAX_RATE_BPS (an empty text is an error, not "no limit")."""
    match = _RATE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidConfig(f"rate {names.shown(text)}: use e.g. 10mbit, 500kbit or a number "
                            "of bit/s",
                            ja=f"帯域 {names.shown(text)}: 10mbit・500kbit のように書くか、"
                               "bit/s の数値で書いてください")
    # Decimal arithmetic: float("9" * 400) is inf, and int(inf) would be a traceback.
    rate = int(Decimal(match.group(1)) * _UNITS[(match.group(2) or "").lower()])
    if not MIN_RATE_BPS <= rate <= MAX_RATE_BPS:
        raise InvalidConfig(f"rate {names.shown(text)} is out of range: {MIN_RATE_BPS} bit/s "
                            f"to {MAX_RATE_BPS} bit/s (tbf's u32 bytes/s)",
                            ja=f"帯域 {names.shown(text)} は範囲外です: {MIN_RATE_BPS} bit/s "
                               f"から {MAX_RATE_BPS} bit/s まで（tbf の u32 bytes/s）")
    return rate


def _arg(check: Callable[[str], _T]) -> Callable[[str], _T]:
    """An argparse type: what `check` makes of the value, or a one-line usage error."""
    def checked(value: str) -> _T:
        try:
            return check(value)
        except InvalidConfig as exc:
            raise argparse.ArgumentTypeError(exc.said()) from exc

    checked.__name__ = getattr(check, "__name__", "value")
    return checked


#: The longest wait a command takes (`capture --duration`, `trace --timeout`): a day. More is
#: a typo, and on the kernel it would hang the command for that long.
MAX_SECONDS = 86_400.0


def seconds_arg(value: str) -> float:
    """A duration in seconds: a finite number, more than 0, at most MAX_SECONDS."""
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidConfig(f"{names.shown(value)} is not a number of seconds",
                            ja=f"{names.shown(value)} は秒数ではありません") from None
    if not 0 < seconds <= MAX_SECONDS:  # also refuses nan
        raise InvalidConfig(f"{names.shown(value)} seconds is out of range: more than 0, at "
                            f"most {MAX_SECONDS:g}",
                            ja=f"{names.shown(value)} 秒は範囲外です: 0 より大きく "
                               f"{MAX_SECONDS:g} 以下")
    return seconds


def count_arg(value: str) -> int:
    """A count of packets: 1 to 2**63 - 1 (iputils ping's range for -c)."""
    try:
        count = int(value, 10)
    except ValueError:
        raise InvalidConfig(f"{names.shown(value)} is not a whole number",
                            ja=f"{names.shown(value)} は整数ではありません") from None
    if not 1 <= count <= 2**63 - 1:
        raise InvalidConfig(f"count {names.shown(value)} is out of range: 1 <= value <= "
                            f"{2**63 - 1}",
                            ja=f"回数 {names.shown(value)} は範囲外です: 1 <= 値 <= "
                               f"{2**63 - 1}")
    return count


def _state_dir_arg(value: str) -> str:
    if not value:
        raise InvalidConfig("state directory '' is empty (leave the option out for the "
                            "default)",
                            ja="状態ディレクトリ '' が空です（既定を使うにはオプションごと"
                               "省いてください）")
    if "\0" in value:
        raise InvalidConfig(f"state directory {names.shown(value)} contains a NUL byte",
                            ja=f"状態ディレクトリ {names.shown(value)} が NUL バイトを"
                               "含んでいます")
    return value


def _progress(args: argparse.Namespace) -> Callable[[str, str], None] | None:
    if not (args.progress or (sys.stderr.isatty() and not args.json)):
        return None
    return lambda operation, step: print(f"  {operation}: {step}", file=sys.stderr)


def _manager(args: argparse.Namespace, backend: Backend) -> NetworkManager:
    # A thread-safe backend's calls may come from two threads: rule tools overlap link steps.
    return NetworkManager(backend, args.state_dir, trace=_progress(args),
                          fault=crash_hook_from_env(),
                          concurrent_tools=THREAD_SAFE in backend.capabilities)


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())


def _emit(args: argparse.Namespace, data: Any, human: Callable[[], None]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        human()


def _run(action: Callable[[argparse.Namespace, NetworkManager], int],
         check: Callable[[argparse.Namespace], object] | None = None,
         ) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        if check is not None:
            check(args)  # a wrong value is refused before the world (and state) is touched
        with open_world(args.backend, args.state_dir) as backend:
            manager = _manager(args, backend)
            try:
                return action(args, manager)
            finally:
                manager.close()

    return command


# -- networks ---------------------------------------------------------------------------------
def _network_spec(args: argparse.Namespace) -> NetworkSpec:
    if args.gateway == "":
        # The spec reads "" as "the default"; typed out, it is a mistake (as --egress "" is).
        raise FieldError("gateway", "'' is not an IPv4 address (leave --gateway out for the "
                                    "first usable address)",
                         ja="'' は IPv4 アドレスではありません（最初の使えるアドレスにするには"
                            " --gateway を省いてください）")
    return NetworkSpec(name=args.name, subnet=args.subnet, bridge=args.bridge or "",
                       gateway=args.gateway or "", mtu=args.mtu,
                       masquerade=args.masquerade, icc=args.icc, antispoof=args.antispoof,
                       dns=tuple(args.dns))


def _create(args: argparse.Namespace, mgr: NetworkManager) -> int:
    spec = _network_spec(args)
    made = mgr.create_network(spec)
    _emit(args, made.to_dict(), lambda: print(made.name))
    return 0


def _ls(args: argparse.Namespace, mgr: NetworkManager) -> int:
    networks = mgr.networks()
    counts = {n.name: len(mgr.endpoints(n.name)) for n in networks}
    _emit(args, [{**n.to_dict(), "endpoints": counts[n.name]} for n in networks],
          lambda: _table([[n.name, n.bridge, n.subnet, n.gateway, str(n.mtu),
                           _onoff(n.masquerade), _onoff(n.icc), str(counts[n.name])]
                          for n in networks],
                         ["NAME", "BRIDGE", "SUBNET", "GATEWAY", "MTU", "MASQ", "ICC",
                          "ENDPOINTS"]))
    return 0


def _onoff(value: bool) -> str:
    return "on" if value else "off"


def _inspect(args: argparse.Namespace, mgr: NetworkManager) -> int:
    spec = mgr.network(args.name)
    data = {**spec.to_dict(), "endpoints": [e.to_dict() for e in mgr.endpoints(spec.name)]}

    def human() -> None:
        for key, value in spec.to_dict().items():
            print(f"{key + ':':12} {value}")
        print("endpoints:")
        for ep in mgr.endpoints(spec.name):
            print(f"  {ep.container} {ep.ip}/{ep.prefixlen} {ep.mac} "
                  f"{' '.join(str(p) for p in ep.ports)}".rstrip())

    _emit(args, data, human)
    return 0


def _rm(args: argparse.Namespace, mgr: NetworkManager) -> int:
    for name in args.names:
        if not mgr.delete_network(name, force=args.force):
            print(say(f"ctrnet: network {name!r} does not exist (nothing to remove)",
                      f"ctrnet: ネットワーク {name!r} は存在しません（削除するものはありません）"),
                  file=sys.stderr)
        elif not args.json:
            print(name)
    return 0


# -- endpoints --------------------------------------------------------------------------------
def _endpoint_spec(args: argparse.Namespace) -> EndpointSpec:
    return EndpointSpec(
        container=args.container, network=args.network, ifname=args.ifname,
        ports=tuple(PortMapping.parse(p) for p in args.publish),
        ingress_bps=parse_rate(args.ingress) if args.ingress is not None else None,
        egress_bps=parse_rate(args.egress) if args.egress is not None else None,
        dns=tuple(args.dns), ip=args.ip)


def _connect(args: argparse.Namespace, mgr: NetworkManager) -> int:
    spec = _endpoint_spec(args)
    # The namespace is the transaction's first step (undone with the rest, recovered after a
    # crash). Host mode, as Docker's: the container shares the host's network namespace, so
    # there is no namespace of its own to create (--create-netns has nothing to do).
    record = mgr.connect(spec, create_netns=args.create_netns)
    shares = (say(f" (shares the host's network namespace {mgr.host_ns!r})",
                  f"（ホストのネットワーク名前空間 {mgr.host_ns!r} を共有）")
              if record.mode is Mode.HOST else "")
    _emit(args, record.to_dict(),
          lambda: print(f"{record.container} {record.ip or record.mode}"
                        f"{'/' + str(record.prefixlen) if record.ip else ''}{shares}"))
    return 0


def _disconnect(args: argparse.Namespace, mgr: NetworkManager) -> int:
    if not mgr.disconnect(args.network, args.container, delete_netns=args.delete_netns):
        print(say(f"ctrnet: {args.container!r} is not connected to {args.network!r} "
                  "(nothing to do)",
                  f"ctrnet: {args.container!r} は {args.network!r} に接続されていません"
                  "（何もしません）"), file=sys.stderr)
    return 0


def _endpoint_row(ep: EndpointRecord) -> list[str]:
    address = f"{ep.ip}/{ep.prefixlen}" if ep.ip else "-"
    state = "up" if ep.active else "incomplete"
    return [ep.container, ep.network, str(ep.mode), address, ep.mac or "-",
            ",".join(str(p) for p in ep.ports) or "-", state]


def _ps(args: argparse.Namespace, mgr: NetworkManager) -> int:
    endpoints = mgr.endpoints(args.network)
    _emit(args, [e.to_dict() for e in endpoints],
          lambda: _table([_endpoint_row(e) for e in endpoints],
                         ["CONTAINER", "NETWORK", "MODE", "ADDRESS", "MAC", "PORTS",
                          "STATE"]))
    return 0


def _gc(args: argparse.Namespace, mgr: NetworkManager) -> int:
    gone = mgr.gc()

    def human() -> None:
        for ep in gone:
            print(say(f"removed {ep.container} from {ep.network}",
                      f"{ep.network} から {ep.container} を削除しました"))

    _emit(args, [e.to_dict() for e in gone], human)
    return 0


# -- the parser -------------------------------------------------------------------------------
def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", choices=sorted(REGISTRY),
                        default=os.environ.get("CTRNET_BACKEND", "sim"),
                        help=say("world to act on (default: sim, or $CTRNET_BACKEND)",
                                 "操作する世界（既定: sim、または $CTRNET_BACKEND）"))
    common.add_argument("--state-dir", default=None, type=_arg(_state_dir_arg),
                        help=say("where networks and endpoints are kept (default: "
                                 "$CTRNET_STATE_DIR, else /var/lib/ctrnet on the kernel, "
                                 "~/.local/state/ctrnet-sim on the simulator)",
                                 "ネットワークとエンドポイントの記録を置く場所（既定: "
                                 "$CTRNET_STATE_DIR、なければカーネルでは /var/lib/ctrnet、"
                                 "シミュレータでは ~/.local/state/ctrnet-sim）"))
    common.add_argument("--json", action="store_true",
                        help=say("machine-readable output", "機械が読むための出力（JSON）"))
    common.add_argument("--progress", action="store_true",
                        help=say("print each step on stderr (default when stderr is a "
                                 "terminal)",
                                 "各手順を標準エラーに表示する（標準エラーが端末なら既定）"))
    return common


def _state_dir(command: Callable[[argparse.Namespace], int]
               ) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        args.state_dir = args.state_dir or default_state_dir(args.backend)
        return command(args)

    return run


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = _common()

    def add(parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
            helptext: str, action: Callable[[argparse.Namespace, NetworkManager], int],
            check: Callable[[argparse.Namespace], object] | None = None,
            ) -> argparse.ArgumentParser:
        parser = parent.add_parser(name, help=helptext, parents=[common])
        parser.set_defaults(func=_state_dir(_run(action, check)))
        return parser

    network = sub.add_parser("network", help=say("create, list, inspect and remove networks",
                                                 "ネットワークの作成・一覧・詳細・削除"))
    verbs = network.add_subparsers(dest="network_command", required=True, metavar="VERB")
    p = add(verbs, "create", say("create a bridge network", "ブリッジネットワークを作る"),
            _create, _network_spec)
    p.add_argument("name", type=_arg(names.network),
                   help=say("the network's name", "ネットワークの名前"))
    p.add_argument("--subnet", required=True,
                   help=say("IPv4 CIDR, e.g. 172.20.0.0/24",
                            "IPv4 の CIDR（例: 172.20.0.0/24）"))
    p.add_argument("--gateway", help=say("the bridge's address (default: first usable)",
                                         "ブリッジのアドレス（既定: 最初の使えるアドレス）"))
    p.add_argument("--bridge", type=_arg(names.bridge),
                   help=say("bridge name, at most 15 bytes (default: br-NAME)",
                            "ブリッジ名、15 バイトまで（既定: br-NAME）"))
    p.add_argument("--mtu", type=int, default=1500,
                   help=say("MTU of the bridge and the veth pairs (default: 1500)",
                            "ブリッジと veth ペアの MTU（既定: 1500）"))
    p.add_argument("--no-masquerade", dest="masquerade", action="store_false",
                   help=say("no MASQUERADE of the subnet's egress",
                            "サブネットから外へ出る通信を MASQUERADE しない"))
    p.add_argument("--no-icc", dest="icc", action="store_false",
                   help=say("drop traffic between containers of this network",
                            "このネットワークのコンテナ同士の通信を落とす"))
    p.add_argument("--no-antispoof", dest="antispoof", action="store_false",
                   help=say("accept frames with a source MAC/IP other than the endpoint's",
                            "送信元 MAC/IP がエンドポイントのものでないフレームも受け入れる"))
    p.add_argument("--dns", action="append", default=[], metavar="IP",
                   help=say("nameserver for the containers' resolv.conf (repeatable)",
                            "コンテナの resolv.conf に書くネームサーバ（複数回指定できる）"))
    add(verbs, "ls", say("list networks", "ネットワークの一覧"), _ls)
    p = add(verbs, "inspect", say("show a network and its endpoints",
                                  "ネットワークとそのエンドポイントを表示する"), _inspect)
    p.add_argument("name", type=_arg(names.network),
                   help=say("the network's name", "ネットワークの名前"))
    p = add(verbs, "rm", say("remove networks (idempotent)", "ネットワークを削除する（冪等）"),
            _rm)
    p.add_argument("names", nargs="+", metavar="NAME", type=_arg(names.network),
                   help=say("the networks' names", "ネットワークの名前"))
    p.add_argument("--force", action="store_true",
                   help=say("disconnect containers first", "先にコンテナを切断する"))

    p = add(sub, "connect", say("connect a container (its network namespace) to a network",
                                "コンテナ（そのネットワーク名前空間）をネットワークにつなぐ"),
            _connect, _endpoint_spec)
    p.add_argument("network", type=_arg(names.network),
                   help=say("a network, or 'host' / 'none' for those modes",
                            "ネットワーク、または 'host' / 'none'（それぞれのモード）"))
    p.add_argument("container", type=_arg(names.container),
                   help=say("the container's network namespace",
                            "コンテナのネットワーク名前空間"))
    p.add_argument("-p", "--publish", action="append", default=[],
                   metavar="[IP:]HOST:CONTAINER[/tcp|udp]",
                   help=say("publish a container port on the host (DNAT; repeatable)",
                            "コンテナのポートをホストに公開する（DNAT、複数回指定できる）"))
    p.add_argument("--ip", help=say("request this address", "このアドレスを要求する"))
    p.add_argument("--ifname", default="eth0", type=_arg(names.ifname),
                   help=say("the interface's name inside the container (default: eth0)",
                            "コンテナ内のインターフェース名（既定: eth0）"))
    p.add_argument("--ingress", metavar="RATE",
                   help=say("limit what the container receives",
                            "コンテナが受信する帯域を制限する"))
    p.add_argument("--egress", metavar="RATE",
                   help=say("limit what the container sends", "コンテナが送信する帯域を制限する"))
    p.add_argument("--dns", action="append", default=[], metavar="IP",
                   help=say("nameserver for this container's resolv.conf, instead of the "
                            "network's (repeatable)",
                            "このコンテナの resolv.conf に書くネームサーバ、ネットワークの"
                            "ものの代わり（複数回指定できる）"))
    p.add_argument("--create-netns", action="store_true",
                   help=say("create the namespace if it does not exist",
                            "名前空間がなければ作る"))
    p = add(sub, "disconnect", say("disconnect a container (idempotent)",
                                   "コンテナを切断する（冪等）"), _disconnect)
    p.add_argument("network", type=_arg(names.network),
                   help=say("the network's name", "ネットワークの名前"))
    p.add_argument("container", type=_arg(names.container),
                   help=say("the container's network namespace",
                            "コンテナのネットワーク名前空間"))
    p.add_argument("--delete-netns", action="store_true",
                   help=say("then delete its namespace", "その後で名前空間を削除する"))
    p = add(sub, "ps", say("list connected containers", "接続されたコンテナの一覧"), _ps)
    p.add_argument("--network", type=_arg(names.network),
                   help=say("only the containers of this network",
                            "このネットワークのコンテナだけ"))
    add(sub, "gc", say("clean up after containers whose namespace is gone",
                       "名前空間がなくなったコンテナの後始末をする"), _gc)
