"""`ip route`: add, del, replace (the kernel's replace of the route with the same destination
and metric, built from delete + add), flush (list + delete), show with its filters, and get;
text, -d and -j forms as iproute2 6.1's print_route() writes them. Main table, IPv4.
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass
from typing import Any

from ctrnet.cmdline.context import CommandFailed, Context, matches
from ctrnet.cmdline.ip_common import (
    ArgReader,
    IpOptions,
    dump_json,
    find_link,
    kernel_call,
    parse_address,
    parse_prefix,
    parse_uint,
    unknown_command,
    unsupported,
)
from ctrnet.types import Route

_ADD_EXTACK = {
    errno.ENETUNREACH: "Nexthop has invalid gateway.",
    errno.ENETDOWN: "Nexthop device is not up.",
    errno.EINVAL: "Invalid prefix for given prefix length.",
}
_ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "throw", "unreachable",
                "prohibit", "blackhole", "nat", "anycast")
_UNSUPPORTED = ("src", "scope", "onlink", "mtu", "advmss", "nexthop", "realm", "realms",
                "tos", "dsfield", "initcwnd", "initrwnd", "rtt", "rttvar", "window", "hoplimit",
                "expires", "encap", "pref", "nhid", "features", "quickack", "congctl",
                "fastopen_no_cookie", "ttl-propagate", "reordering", "ssthresh", "cwnd",
                "lock", "from", "iif", "oif", "mark", "uid", "vrf", "ipproto", "sport",
                "dport", "fibmatch", "connected", "as", "cache", "cloned", "match", "exact",
                "root")


@dataclass
class RouteSpec:
    """A route as `ip route add|del|show` names it; None means "not given"."""

    dst: str | None = None
    gateway: str | None = None
    dev: str | None = None
    metric: int | None = None
    proto: str | None = None
    scope: str | None = None
    table: str = "main"
    type: str | None = None


def _parse_spec(argv: list[str], *, show: bool = False) -> RouteSpec:
    spec = RouteSpec()
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "via":
            gateway = r.value()
            if gateway == "inet":
                gateway = r.value()
            spec.gateway = parse_address(gateway)
        elif word in ("dev", "oif") and not (show and word == "oif"):
            spec.dev = r.value()
        elif word in ("metric", "priority", "preference"):
            spec.metric = parse_uint(r.value(), "metric")
        elif word == "table":
            table = r.value()
            if show and table in ("local", "255"):
                spec.table = "local"
            elif table not in ("main", "254"):
                raise unsupported(f"route table {table}")
        elif show and word in ("proto", "protocol"):
            spec.proto = r.value()
        elif show and word == "scope":
            spec.scope = r.value()
        elif show and word == "type":
            spec.type = r.value()
        elif word in _UNSUPPORTED or word in ("proto", "protocol"):
            raise unsupported(f"route option {word!r}")
        elif word in _ROUTE_TYPES:
            if word != "unicast":
                raise unsupported(f"route type {word}")
        else:
            if word == "to":
                word = r.value()
            if show and word == "all":
                continue
            spec.dst = parse_prefix(word)
    return spec


def route_add(ctx: Context, argv: list[str]) -> int:
    spec = _parse_spec(argv)
    if spec.dst is None:
        raise CommandFailed("Error: inet prefix is expected rather than \"\".\n", 1)
    dev = find_link(ctx, spec.dev).name if spec.dev is not None else None
    with kernel_call(_ADD_EXTACK):
        ctx.backend.route_add(ctx.ns, spec.dst, gateway=spec.gateway, dev=dev, metric=spec.metric)
    return 0


def route_del(ctx: Context, argv: list[str]) -> int:
    spec = _parse_spec(argv)
    if spec.dst is None:
        raise unsupported("route delete without a destination")
    dev = find_link(ctx, spec.dev).name if spec.dev is not None else None
    with kernel_call():
        ctx.backend.route_delete(
            ctx.ns, spec.dst, gateway=spec.gateway, dev=dev, metric=spec.metric
        )
    return 0


def route_replace(ctx: Context, argv: list[str]) -> int:
    """NLM_F_REPLACE: the route with this destination and metric (the fib key, with tos) is
    replaced, or the route is added when there is none."""
    spec = _parse_spec(argv)
    if spec.dst is None:
        raise unsupported("route replace without a destination")
    dev = find_link(ctx, spec.dev).name if spec.dev is not None else None
    metric = spec.metric or 0
    old = next(
        (rt for rt in ctx.backend.route_list(ctx.ns) if rt.dst == spec.dst and rt.metric == metric),
        None,
    )
    with kernel_call(_ADD_EXTACK):
        if old is not None:
            ctx.backend.route_delete(
                ctx.ns, old.dst, gateway=old.gateway, dev=old.dev, metric=old.metric
            )
        try:
            ctx.backend.route_add(
                ctx.ns, spec.dst, gateway=spec.gateway, dev=dev, metric=spec.metric
            )
        except Exception:
            # The kernel checks the new route before removing the old one: put it back.
            if old is not None:
                ctx.backend.route_add(
                    ctx.ns, old.dst, gateway=old.gateway, dev=old.dev, metric=old.metric or None
                )
            raise
    return 0


def _selected(ctx: Context, spec: RouteSpec) -> list[Route]:
    dev = find_link(ctx, spec.dev).name if spec.dev is not None else None
    routes = []
    if spec.table == "local":
        try:
            table = ctx.backend.route_list_local(ctx.ns)
        except NotImplementedError:
            raise unsupported("route table local on this backend") from None
    else:
        table = ctx.backend.route_list(ctx.ns)
    if spec.table == "local" and not table:
        # No address at all: the kernel has not made the local table yet.
        raise CommandFailed("Error: ipv4: FIB table does not exist.\nDump terminated\n", 2)
    for rt in table:
        if spec.dst is not None and rt.dst not in (spec.dst, spec.dst.removesuffix("/32")):
            continue
        if spec.type is not None and rt.type != spec.type:
            continue
        if dev is not None and rt.dev != dev:
            continue
        if spec.gateway is not None and rt.gateway != spec.gateway:
            continue
        if spec.metric is not None and rt.metric != spec.metric:
            continue
        if spec.proto is not None and rt.proto != spec.proto:
            continue
        if spec.scope is not None and _scope_name(rt) != spec.scope:
            continue
        routes.append(rt)
    return routes


def _scope_name(rt: Route) -> str:
    # rtnl_rtscope_n2a(): RT_SCOPE_UNIVERSE is printed as "global".
    return "global" if rt.scope == "universe" else rt.scope


def route_show(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    spec = _parse_spec(argv, show=True)
    routes = _selected(ctx, spec)
    carrier = {link.name: link.carrier for link in ctx.backend.link_list(ctx.ns)}
    entries: list[dict[str, Any]] = []
    for rt in routes:
        # RTNH_F_LINKDOWN: the kernel marks routes whose device has lost carrier.
        flags = [] if carrier.get(rt.dev, True) or rt.type == "local" else ["linkdown"]
        entry: dict[str, Any] = {}
        if opts.details or rt.type != "unicast":
            entry["type"] = rt.type
        entry["dst"] = rt.dst
        if rt.gateway:
            entry["gateway"] = rt.gateway
        if spec.dev is None:
            entry["dev"] = rt.dev
        if rt.proto != "boot" or opts.details:
            entry["protocol"] = rt.proto
        if rt.scope != "universe" or opts.details:
            entry["scope"] = _scope_name(rt)
        if rt.prefsrc:
            entry["prefsrc"] = rt.prefsrc
        if rt.metric:
            entry["metric"] = rt.metric
        entry["flags"] = flags
        entries.append(entry)
    if opts.json:
        dump_json(ctx, entries)
        return 0
    words = {"gateway": "via", "dev": "dev", "protocol": "proto", "scope": "scope",
             "prefsrc": "src", "metric": "metric"}
    for entry in entries:
        line = ""
        for key, value in entry.items():
            if key in ("type", "dst"):
                line += f"{value} "
            elif key == "flags":
                line += "".join(f"{flag} " for flag in value)
            else:
                line += f"{words[key]} {value} "
        ctx.out(line + "\n")
    return 0


def route_flush(ctx: Context, argv: list[str]) -> int:
    if not argv:
        raise CommandFailed('"ip route flush" requires arguments.\n', 1)
    spec = _parse_spec(argv, show=True)
    for rt in _selected(ctx, spec):
        with kernel_call():
            ctx.backend.route_delete(ctx.ns, rt.dst, gateway=rt.gateway, dev=rt.dev,
                                     metric=rt.metric)
    return 0


def route_get(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    dst: str | None = None
    source: str | None = None
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "from":
            text = r.value()
            try:
                source = str(ipaddress.IPv4Address(text.split("/", 1)[0]))
            except ValueError:
                raise CommandFailed(
                    f'Error: inet prefix is expected rather than "{text}".\n', 1) from None
            continue
        if word in _UNSUPPORTED or word in ("dev", "via", "table", "vrf"):
            raise unsupported(f"route get option {word!r}")
        if word == "to":
            word = r.value()
        try:
            dst = str(ipaddress.IPv4Address(word.split("/", 1)[0]))
        except ValueError:
            raise CommandFailed(
                f'Error: inet prefix is expected rather than "{word}".\n', 1
            ) from None
    if dst is None:
        raise CommandFailed("need at least a destination address\n", 1)
    if source is not None and source not in {a.ip for a in ctx.backend.addr_list(ctx.ns)}:
        # __ip_route_output_key: a source that is no address of this host (ENETUNREACH).
        raise CommandFailed("RTNETLINK answers: Network is unreachable\n", 2)
    with kernel_call():
        decision = ctx.backend.route_get(ctx.ns, dst)
    local = decision.type == "local"
    # rt_fill_info's cache flags: RTCF_LOCAL for local and broadcast, RTCF_BROADCAST too.
    cache = ["local", "brd"] if decision.type == "broadcast" else ["local"] if local else []
    entry: dict[str, Any] = {}
    if decision.type != "unicast":
        entry["type"] = decision.type
    entry["dst"] = decision.dst
    if source is not None:
        entry["from"] = source
    if decision.gateway:
        entry["gateway"] = decision.gateway
    entry["dev"] = decision.dev
    if decision.prefsrc and source is None:
        entry["prefsrc"] = decision.prefsrc
    entry["flags"] = []
    entry["uid"] = 0
    entry["cache"] = cache
    if opts.json:
        dump_json(ctx, [entry])
        return 0
    line = f"{decision.type} " if "type" in entry else ""
    line += f"{decision.dst} "
    if source is not None:
        line += f"from {source} "
    if decision.gateway:
        line += f"via {decision.gateway} "
    line += f"dev {decision.dev} "
    if "prefsrc" in entry:
        line += f"src {decision.prefsrc} "
    shown = f"<{','.join(cache)}> " if cache else ""
    ctx.out(line + "uid 0 \n    cache " + shown + "\n")
    return 0


def do_route(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    """do_iproute(): subcommands matched by prefix in iproute2's order."""
    if not argv:
        return route_show(ctx, opts, [])
    word, rest = argv[0], argv[1:]
    if matches(word, "add"):
        return route_add(ctx, rest)
    if matches(word, "change") or word == "chg":
        raise unsupported("route change")
    if matches(word, "replace"):
        return route_replace(ctx, rest)
    if matches(word, "prepend") or matches(word, "append") or matches(word, "test"):
        raise unsupported(f"route {word}")
    if matches(word, "delete"):
        return route_del(ctx, rest)
    if matches(word, "list") or matches(word, "show") or matches(word, "lst"):
        return route_show(ctx, opts, rest)
    if matches(word, "get"):
        return route_get(ctx, opts, rest)
    if matches(word, "flush"):
        return route_flush(ctx, rest)
    if (matches(word, "save") or matches(word, "restore") or matches(word, "showdump")
            or matches(word, "help")):
        raise unsupported(f"route {word}")
    raise unknown_command(word, "route")
