"""`ip link`: add (veth, bridge), set (several changes in one command, applied in the order
the kernel's do_setlink() applies them), delete and show (text, -o, -br, -d, -j), with
iproute2 6.1's keyword matching, error texts and exit statuses.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field

from ctrnet.cmdline.context import CommandFailed, Context, matches, namespace_exists
from ctrnet.cmdline.ip_common import (
    ArgReader,
    IpOptions,
    dump_json,
    find_link,
    invarg,
    kernel_call,
    need_dev,
    parse_int,
    parse_uint,
    unknown_command,
    unsupported,
)
from ctrnet.cmdline.linkfmt import LinkTable, brief_state, details_json, details_text
from ctrnet.types import Link, LinkKind

#: Kinds the kernel knows but this front-end cannot create: refused loudly, not "unknown".
KNOWN_KINDS = frozenset(
    "dummy vlan macvlan macvtap ipvlan ipvtap vxlan gre gretap ip6gre ip6gretap ipip sit vti "
    "vti6 ip6tnl bond team ifb tun tap wireguard geneve vrf nlmon netdevsim xfrm bareudp "
    "erspan ip6erspan can vcan vxcan macsec hsr rmnet batadv amt gtp".split()
)
_MAC = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")
#: Bridge options of `type bridge` this front-end maps onto the Backend (centiseconds).
_BRIDGE_TIMES = ("forward_delay", "ageing_time")


#: Set by `ip netns exec` / `nsenter` of the simulated command line in the environment of
#: the command it runs: the simulated namespace that process is in (no variable: the host).
_SIM_NS_ENV = b"CTRNET_SIM_NS="


def _pid_namespace(ctx: Context, pid: int) -> str:
    """The simulated namespace process `pid` runs in: the one `ip netns exec` put it in,
    else the host namespace, where the shell and every process outside it live."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
    except FileNotFoundError:
        raise CommandFailed("RTNETLINK answers: No such process\n", 2) from None
    except OSError:
        return ctx.backend.host_ns  # another user's process (init): not one of the run's
    for item in environ:
        if item.startswith(_SIM_NS_ENV):
            ns = item[len(_SIM_NS_ENV):].decode(errors="replace")
            if ns and namespace_exists(ctx, ns):
                return ns
    return ctx.backend.host_ns


@dataclass
class LinkArgs:
    """What iplink_parse() collects from one `ip link add|set` command line."""

    dev: str | None = None
    name: str | None = None
    up: bool | None = None
    mtu: int | None = None
    address: str | None = None
    master: str | None = None
    nomaster: bool = False
    netns: str | None = None
    kind: str | None = None
    type_args: list[str] = field(default_factory=list)


def _check_ifname(name: str) -> None:
    # check_ifname(): shorter than IFNAMSIZ, no '/', ':' or whitespace.
    if not name or len(name) >= 16 or any(c in "/:" or c.isspace() for c in name):
        raise CommandFailed(
            f'Error: argument "{name}" is wrong: "name" not a valid ifname\n', 255, fatal=True
        )


def _mac(text: str) -> str:
    if not _MAC.match(text):
        parts = text.split(":")
        bad = next((p for p in parts if not re.fullmatch(r"[0-9a-fA-F]{1,2}", p)), text)
        raise CommandFailed(f'"{bad}" is invalid lladdr.\n', 1)
    return ":".join(f"{int(part, 16):02x}" for part in text.split(":"))


def parse_link_args(ctx: Context, argv: list[str]) -> LinkArgs:
    """iplink_parse(): keywords in its order of tests; anything else names the device."""
    args = LinkArgs()
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "up":
            args.up = True
        elif word == "down":
            args.up = False
        elif word == "name":
            args.name = r.value()
            _check_ifname(args.name)
        elif matches(word, "address"):
            args.address = _mac(r.value())
        elif word == "mtu":
            # get_integer(): a C int; the kernel then judges it against min_mtu/max_mtu
            # (a negative one is "less than device minimum", as the real ip says).
            args.mtu = parse_int(r.value(), "mtu")
        elif word == "netns":
            args.netns = r.value()
            if not namespace_exists(ctx, args.netns):
                if not args.netns.isdigit():
                    raise invarg('Invalid "netns" value\n', args.netns)
                # iproute2 tries the name first, then a PID: the namespace that process
                # runs in (`netns 1`: init's, the way back to the host).
                args.netns = _pid_namespace(ctx, int(args.netns))
        elif matches(word, "master"):
            args.master = r.value()
            if args.master not in {link.name for link in ctx.backend.link_list(ctx.ns)}:
                raise invarg("Device does not exist\n", args.master)
        elif matches(word, "nomaster"):
            args.nomaster = True
        elif matches(word, "type"):
            args.kind = r.value()
            args.type_args = argv[r.pos :]
            break
        elif word in ("link", "broadcast", "brd", "txqueuelen", "qlen", "txqlen", "multicast",
                      "allmulticast", "promisc", "trailers", "arp", "carrier", "vf", "vrf",
                      "alias", "group", "mode", "state", "numtxqueues", "numrxqueues",
                      "protodown", "xdp", "index", "dynamic", "addrgenmode", "gso_max_size",
                      "gso_max_segs", "netnsid", "link-netns", "link-netnsid", "altname"):
            raise unsupported(f"link option {word!r}")
        else:
            if word == "dev":
                word = r.value()
            if args.dev is not None:
                raise CommandFailed(
                    f'Error: either "dev" is duplicate, or "{word}" is a garbage.\n', 255,
                    fatal=True)
            args.dev = word
    return args


def _bridge_opts(args: list[str]) -> dict[str, float | int]:
    """`type bridge` options; times come in centiseconds as iproute2 takes them."""
    opts: dict[str, float | int] = {}
    r = ArgReader(args)
    while r:
        word = r.take()
        if word == "stp_state":
            opts["stp_state"] = parse_uint(r.value(), "stp_state")
        elif word in _BRIDGE_TIMES:
            opts[word] = parse_uint(r.value(), word) / 100.0
        else:
            raise unsupported(f"bridge option {word!r}")
    return opts


def _mtu_extack(mtu: int) -> dict[int, str]:
    # dev_validate_mtu(): the kernel's two extack texts for an MTU outside [min_mtu, max_mtu].
    text = "mtu less than device minimum." if mtu < 68 else "mtu greater than device maximum."
    return {errno.EINVAL: text}


def link_add(ctx: Context, argv: list[str]) -> int:
    args = parse_link_args(ctx, argv)
    name = args.name or args.dev
    if args.kind is None:
        raise CommandFailed('Not enough information: "type" argument is required\n', 1)
    if name is None:
        raise need_dev()
    if args.name is None and len(name) >= 16 and not any(c in "/:" or c.isspace()
                                                         for c in name):
        # The positional (`dev`) form is checked by check_altifname() only (128 bytes), so a
        # long name reaches the kernel, whose IFLA_IFNAME policy refuses it (seen on 6.18).
        raise CommandFailed("Error: Attribute failed policy validation.\n", 2)
    _check_ifname(name)
    if args.master is not None or args.nomaster:
        raise unsupported("link add ... master")
    ns = args.netns or ctx.ns
    if args.kind == "veth":
        peer_args = _veth_peer(ctx, args.type_args)
        peer_ns = peer_args.netns or ctx.ns
        peer = peer_args.name or peer_args.dev or _free_veth_name(ctx, peer_ns)
        with kernel_call():
            ctx.backend.veth_add(ns, name, peer, peer_ns, mtu=args.mtu)
            if peer_args.mtu is not None:
                ctx.backend.link_set_mtu(peer_ns, peer, peer_args.mtu)
            if peer_args.address is not None:
                ctx.backend.link_set_mac(peer_ns, peer, peer_args.address)
            if peer_args.up:
                ctx.backend.link_set_up(peer_ns, peer, True)
    elif args.kind == "bridge":
        opts = _bridge_opts(args.type_args)
        with kernel_call():
            ctx.backend.bridge_add(
                ns,
                name,
                stp_state=int(opts.get("stp_state", 0)),
                forward_delay=float(opts.get("forward_delay", 15.0)),
                ageing_time=float(opts.get("ageing_time", 300.0)),
            )
            if args.mtu is not None:
                ctx.backend.link_set_mtu(ns, name, args.mtu)
    elif args.kind in KNOWN_KINDS:
        raise unsupported(f"link type {args.kind}")
    else:
        raise CommandFailed("Error: Unknown device type.\n", 2)
    with kernel_call():
        if args.address is not None:
            ctx.backend.link_set_mac(ns, name, args.address)
        if args.up:
            ctx.backend.link_set_up(ns, name, True)
    return 0


def _free_veth_name(ctx: Context, ns: str) -> str:
    """veth_newlink() names an unnamed peer "veth%d": the lowest number free in its namespace."""
    taken = {link.name for link in ctx.backend.link_list(ns)}
    return next(f"veth{n}" for n in range(len(taken) + 1) if f"veth{n}" not in taken)


def _veth_peer(ctx: Context, argv: list[str]) -> LinkArgs:
    if not argv:
        return LinkArgs()
    if argv[0] != "peer":
        raise unsupported(f"veth option {argv[0]!r}")
    peer = parse_link_args(ctx, argv[1:])
    if peer.kind is not None or peer.master is not None or peer.nomaster:
        raise unsupported("veth peer type/master")
    return peer


def _bridge_slave_set(ctx: Context, name: str, argv: list[str]) -> None:
    """`type bridge_slave` (iplink_bridge_slave.c): the port flags hairpin and learning, as
    `on`/`off`; a device that is no bridge port has no slave ops (EOPNOTSUPP)."""
    flags: dict[str, bool] = {}
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word in ("hairpin", "learning"):
            value = r.value()
            if value not in ("on", "off"):
                raise CommandFailed(f'Error: argument of "{word}" must be one of "off", "on", '
                                    f'not "{value}"\n', 1, fatal=True)
            flags[word] = value == "on"
        else:
            raise unsupported(f"link set ... type bridge_slave {word!r}")
    link = find_link(ctx, name)
    if link.master is None:
        raise CommandFailed("RTNETLINK answers: Operation not supported\n", 2)
    if flags:
        with kernel_call():
            ctx.backend.bridge_port_set(ctx.ns, name, hairpin=flags.get("hairpin"),
                                        learning=flags.get("learning"))


def link_set(ctx: Context, argv: list[str]) -> int:
    args = parse_link_args(ctx, argv)
    if args.dev is None:
        raise need_dev()
    link = find_link(ctx, args.dev)
    ns, name = ctx.ns, link.name
    # __rtnl_newlink() runs changelink (the `type` options) first, then do_setlink():
    # netns, address, mtu, name, flags (up/down), master, in that order.
    if args.kind == "bridge_slave":
        _bridge_slave_set(ctx, name, args.type_args)
    elif args.kind is not None:
        if args.kind != "bridge" or link.kind is not LinkKind.BRIDGE:
            raise unsupported(f"link set ... type {args.kind}")
        opts = _bridge_opts(args.type_args)
        with kernel_call():
            ctx.backend.bridge_set(
                ns,
                name,
                stp_state=int(opts["stp_state"]) if "stp_state" in opts else None,
                forward_delay=float(opts["forward_delay"]) if "forward_delay" in opts else None,
                ageing_time=float(opts["ageing_time"]) if "ageing_time" in opts else None,
            )
    if args.name is not None:
        _check_ifname(args.name)
    with kernel_call():
        if args.netns is not None and args.netns != ns:
            ctx.backend.link_set_netns(ns, name, args.netns)
            ns = args.netns
        if args.address is not None:
            ctx.backend.link_set_mac(ns, name, args.address)
    if args.mtu is not None:
        with kernel_call(_mtu_extack(args.mtu)):
            ctx.backend.link_set_mtu(ns, name, args.mtu)
    with kernel_call():
        if args.name is not None and args.name != name:
            ctx.backend.link_rename(ns, name, args.name)
            name = args.name
        if args.up is not None:
            ctx.backend.link_set_up(ns, name, args.up)
    with kernel_call({errno.ELOOP: "Can not enslave a bridge to a bridge."}):
        if args.master is not None:
            ctx.backend.link_set_master(ns, name, args.master)
        elif args.nomaster:
            ctx.backend.link_set_master(ns, name, None)
    return 0


def link_delete(ctx: Context, argv: list[str]) -> int:
    args = parse_link_args(ctx, argv)
    if args.dev is None:
        raise need_dev()
    if args.kind is not None and args.type_args:
        raise unsupported("link delete ... type arguments")
    link = find_link(ctx, args.dev)
    with kernel_call():
        ctx.backend.link_delete(ctx.ns, link.name)
    return 0


def select_links(ctx: Context, argv: list[str], table: LinkTable) -> list[Link]:
    """The filters `ip link show` and `ip addr show` take: [dev] NAME, up, master, type."""
    dev: str | None = None
    up_only = False
    master: str | None = None
    kind: str | None = None
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "up":
            up_only = True
        elif word == "master":
            master = r.value()
            if table.get(master) is None:
                raise invarg("Device does not exist\n", master)
        elif word == "type":
            kind = r.value()
        elif word in ("label", "scope", "to", "nomaster", "vrf", "group", "permanent",
                      "dynamic", "primary", "secondary", "tentative", "deprecated"):
            raise unsupported(f"show filter {word!r}")
        else:
            if word == "dev":
                word = r.value()
            dev = word
    if dev is not None and table.get(dev) is None:
        raise CommandFailed(f'Device "{dev}" does not exist.\n', 1)
    selected = []
    for link in table.links:
        if dev is not None and link.name != dev:
            continue
        if up_only and not link.up:
            continue
        if master is not None and link.master != master:
            continue
        if kind is not None and link.kind.value != kind:
            continue
        selected.append(link)
    return selected


def peer_key(table: LinkTable, link: Link) -> dict[str, str | int]:
    """-br -j names a veth's peer as -j does: "link" locally, "link_index" across namespaces."""
    full = table.json_base(link, mode=False)
    return {key: full[key] for key in ("link", "link_index") if key in full}


def link_show(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    table = LinkTable(ctx.backend, ctx.ns)
    links = select_links(ctx, argv, table)
    if opts.json:
        if opts.brief:
            dump_json(ctx, [
                peer_key(table, link) | {"ifname": link.name, "operstate": brief_state(link),
                                          "address": link.mac, "flags": table.flags(link)}
                for link in links
            ])
        else:
            dump_json(ctx, [
                table.json_base(link, mode=True) | (details_json(link) if opts.details else {})
                for link in links
            ])
        return 0
    for link in links:
        if opts.brief:
            ctx.out(f"{table.display_name(link):<16} {brief_state(link):<14} {link.mac} "
                    f"<{','.join(table.flags(link))}> \n")
            continue
        record = table.header(link, mode=True) + "\n" + table.l2_line(link)
        if opts.details:
            record += details_text(link)
        ctx.out((record.replace("\n", "\\") if opts.oneline else record) + "\n")
    return 0


def do_link(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    """do_iplink(): the subcommand is matched by prefix, in iproute2's order."""
    if not argv:
        return link_show(ctx, opts, [])
    word, rest = argv[0], argv[1:]
    if matches(word, "add"):
        return link_add(ctx, rest)
    if matches(word, "set") or matches(word, "change"):
        return link_set(ctx, rest)
    if matches(word, "replace"):
        raise unsupported("link replace")
    if matches(word, "delete"):
        return link_delete(ctx, rest)
    if matches(word, "show") or matches(word, "lst") or matches(word, "list"):
        return link_show(ctx, opts, rest)
    if matches(word, "xstats") or matches(word, "afstats") or matches(word, "property"):
        raise unsupported(f"link {word}")
    if matches(word, "help"):
        raise unsupported("link help")
    raise unknown_command(word, "link")
