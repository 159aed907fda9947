"""`ip address`: add, del (with iproute2's wildcard deletion of a bare address), flush (a list
and a delete per address, as iproute2 does it) and show in its text, -o, -br, -4 and -j forms.
IPv4 only, like the Backend protocol: the namespaces have IPv6 disabled.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import Any

from ctrnet.cmdline.context import CommandFailed, Context, matches
from ctrnet.cmdline.ip_common import (
    ArgReader,
    IpOptions,
    dump_json,
    find_link,
    kernel_call,
    unknown_command,
    unsupported,
)
from ctrnet.cmdline.ip_link import peer_key, select_links
from ctrnet.cmdline.linkfmt import LinkTable, brief_state, details_json, details_text
from ctrnet.errors import NotFound
from ctrnet.types import Address

#: "forever" in IFA_CACHEINFO, as -j prints it.
INFINITY_LIFE_TIME = 4294967295
_ADD_EXTACK = {errno.EEXIST: "ipv4: Address already assigned."}
_DEL_EXTACK = {errno.EADDRNOTAVAIL: "ipv4: Address not found."}
_WILDCARD_WARNING = (
    "Warning: Executing wildcard deletion to stay compatible with old scripts.\n"
    "         Explicitly specify the prefix length ({ip}/32) to avoid this warning.\n"
    "         This special behaviour is likely to disappear in further releases,\n"
    "         fix your scripts!\n"
)


def _need_dev() -> CommandFailed:
    return CommandFailed('Not enough information: "dev" argument is required.\n', 1)


def _scope(address: Address) -> str:
    # iproute2 gives 127.0.0.0/8 addresses host scope when none is named (ipaddr_modify()).
    return "host" if address.ip.startswith("127.") else "global"


def _parse_modify(argv: list[str]) -> tuple[str | None, str | None, bool]:
    """(CIDR or None, dev, whether a prefix length was given) of `ip addr add|del`."""
    local: str | None = None
    dev: str | None = None
    has_len = True
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "dev":
            dev = r.value()
        elif matches(word, "broadcast") or word == "brd":
            # `brd +` / an explicit broadcast: the kernel only records it (IFA_BROADCAST);
            # the Backend keeps no broadcast address, so show output lacks the brd word.
            r.value()
        elif word in ("peer", "remote", "label", "scope", "valid_lft", "preferred_lft",
                      "noprefixroute", "home", "nodad", "mngtmpaddr", "autojoin", "metric",
                      "anycast", "optimistic", "proto"):
            raise unsupported(f"address option {word!r}")
        else:
            if word == "local":
                word = r.value()
            try:
                iface = ipaddress.IPv4Interface(word)
            except ValueError:
                raise CommandFailed(
                    f'Error: any valid prefix is expected rather than "{word}".\n', 1
                ) from None
            has_len = "/" in word
            local = f"{iface.ip}/{iface.network.prefixlen}"
    return local, dev, has_len


def addr_add(ctx: Context, argv: list[str]) -> int:
    local, dev, _ = _parse_modify(argv)
    if dev is None:
        raise _need_dev()
    link = find_link(ctx, dev)
    if local is None:
        # No IFA_LOCAL: the kernel's inet_rtm_newaddr() refuses the empty request.
        raise CommandFailed("RTNETLINK answers: Operation not supported\n", 2)
    with kernel_call(_ADD_EXTACK):
        ctx.backend.addr_add(ctx.ns, link.name, local)
    return 0


def addr_del(ctx: Context, argv: list[str]) -> int:
    local, dev, has_len = _parse_modify(argv)
    if dev is None:
        raise _need_dev()
    link = find_link(ctx, dev)
    if local is None:
        raise unsupported("address delete without an address")
    if not has_len:
        # A bare address deletes the first address with that IP whatever its length, after
        # iproute2's warning (inet_rtm_deladdr() matches on IFA_LOCAL alone without a length).
        ip = local.split("/", 1)[0]
        ctx.err(_WILDCARD_WARNING.format(ip=ip))
        for address in ctx.backend.addr_list(ctx.ns, link.name):
            if address.ip == ip:
                local = address.cidr
                break
    with kernel_call(_DEL_EXTACK):
        ctx.backend.addr_delete(ctx.ns, link.name, local)
    return 0


def addr_flush(ctx: Context, argv: list[str]) -> int:
    if not argv:
        raise CommandFailed("Flush requires arguments.\n", 1)
    table = LinkTable(ctx.backend, ctx.ns)
    for link in select_links(ctx, argv, table):
        # Deleting a primary address takes its secondaries with it, so list again each time.
        for _ in range(1024):
            remaining = ctx.backend.addr_list(ctx.ns, link.name)
            if not remaining:
                break
            try:
                with kernel_call():
                    ctx.backend.addr_delete(ctx.ns, link.name, remaining[0].cidr)
            except CommandFailed:
                if remaining[0] in ctx.backend.addr_list(ctx.ns, link.name):
                    raise
    return 0


def _addr_json(address: Address) -> dict[str, Any]:
    return {
        "family": "inet",
        "local": address.ip,
        "prefixlen": address.prefixlen,
        "scope": _scope(address),
        "label": address.ifname,
        "valid_life_time": INFINITY_LIFE_TIME,
        "preferred_life_time": INFINITY_LIFE_TIME,
    }


def _addr_lines(address: Address) -> list[str]:
    return [
        f"    inet {address.cidr} scope {_scope(address)} {address.ifname}",
        "       valid_lft forever preferred_lft forever",
    ]


def addr_show(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    table = LinkTable(ctx.backend, ctx.ns)
    links = select_links(ctx, argv, table)
    by_link: dict[str, list[Address]] = {link.name: [] for link in links}
    try:
        for address in ctx.backend.addr_list(ctx.ns):
            if address.ifname in by_link:
                by_link[address.ifname].append(address)
    except NotFound:
        pass
    if opts.inet_only:
        # With a family selected, ipaddr_filter() drops links holding no address of it.
        links = [link for link in links if by_link[link.name]]
    if opts.json:
        if opts.brief:
            out: list[dict[str, Any]] = [
                peer_key(table, link) | {"ifname": link.name, "operstate": brief_state(link),
                 "addr_info": [{"local": a.ip, "prefixlen": a.prefixlen}
                               for a in by_link[link.name]]}
                for link in links
            ]
        else:
            out = [
                table.json_base(link, mode=False, l2=not opts.inet_only)
                | (details_json(link) if opts.details else {})
                | {"addr_info": [_addr_json(a) for a in by_link[link.name]]}
                for link in links
            ]
        dump_json(ctx, out)
        return 0
    for link in links:
        addresses = by_link[link.name]
        if opts.brief:
            words = "".join(f"{a.cidr} " for a in addresses)
            ctx.out(f"{table.display_name(link):<16} {brief_state(link):<14} {words}\n")
        elif opts.oneline:
            for a in addresses:
                ctx.out(f"{link.index}: {link.name}" + "\\".join(_addr_lines(a)) + "\n")
        else:
            header = table.header(link, mode=False)
            if opts.inet_only:
                lines = [header + table.netns_words(link)]
            else:
                l2 = table.l2_line(link) + (details_text(link) if opts.details else "")
                lines = [header, l2]
            for a in addresses:
                lines += _addr_lines(a)
            ctx.out("\n".join(lines) + "\n")
    return 0


def do_addr(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    """do_ipaddr(): subcommands matched by prefix in iproute2's order."""
    if not argv:
        return addr_show(ctx, opts, [])
    word, rest = argv[0], argv[1:]
    if matches(word, "add"):
        return addr_add(ctx, rest)
    if matches(word, "change") or word == "chg" or matches(word, "replace"):
        raise unsupported(f"address {word}")
    if matches(word, "delete"):
        return addr_del(ctx, rest)
    if matches(word, "list") or matches(word, "show") or matches(word, "lst"):
        return addr_show(ctx, opts, rest)
    if matches(word, "flush"):
        return addr_flush(ctx, rest)
    if (matches(word, "save") or matches(word, "showdump") or matches(word, "restore")
            or matches(word, "help")):
        raise unsupported(f"address {word}")
    raise unknown_command(word, "address")
