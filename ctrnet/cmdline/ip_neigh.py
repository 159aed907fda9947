"""`ip neighbour`: show (text and -j, as ipneigh.c prints entries) and flush (which, like the
kernel's, leaves permanent and NOARP entries). Adding entries by hand is not supported.
"""

from __future__ import annotations

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
    unknown_command,
    unsupported,
)


@dataclass(frozen=True)
class NeighFilter:
    """What `ip neigh show|flush` selects: a device, a destination prefix, or `all`."""

    dev: str | None = None
    prefix: ipaddress.IPv4Network | None = None
    everything: bool = False

    def admits(self, ip: str) -> bool:
        return self.prefix is None or ipaddress.IPv4Address(ip) in self.prefix


def _parse_filter(ctx: Context, argv: list[str]) -> NeighFilter:
    dev: str | None = None
    prefix: ipaddress.IPv4Network | None = None
    everything = False
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "dev":
            dev = find_link(ctx, r.value()).name
        elif word == "all":
            everything = True
        elif word in ("nud", "proxy", "unused", "vrf", "master", "protocol", "nomaster"):
            raise unsupported(f"neighbour filter {word!r}")
        else:
            if word == "to":
                word = r.value()
            try:
                prefix = ipaddress.IPv4Network(word, strict=False)
            except ValueError:
                raise CommandFailed(
                    f'Error: any valid prefix is expected rather than "{word}".\n', 1
                ) from None
    return NeighFilter(dev, prefix, everything)


def neigh_show(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    selected = _parse_filter(ctx, argv)
    dev = selected.dev
    entries: list[dict[str, Any]] = []
    for neigh in ctx.backend.neigh_list(ctx.ns, dev):
        if not selected.admits(neigh.ip):
            continue
        entry: dict[str, Any] = {"dst": neigh.ip}
        if dev is None:
            entry["dev"] = neigh.ifname
        if neigh.mac:
            entry["lladdr"] = neigh.mac
        entry["state"] = [neigh.state.value]
        entries.append(entry)
    if opts.json:
        dump_json(ctx, entries)
        return 0
    for entry in entries:
        line = f"{entry['dst']} "
        if "dev" in entry:
            line += f"dev {entry['dev']} "
        if "lladdr" in entry:
            line += f"lladdr {entry['lladdr']} "
        ctx.out(line + f"{entry['state'][0]} \n")
    return 0


def neigh_flush(ctx: Context, argv: list[str]) -> int:
    if not argv:
        raise CommandFailed("Flush requires arguments.\n", 1)
    selected = _parse_filter(ctx, argv)
    if selected.prefix is not None:
        raise unsupported("neighbour flush by address")
    with kernel_call():
        ctx.backend.neigh_flush(ctx.ns, selected.dev)
    return 0


def do_neigh(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    """do_ipneigh(): subcommands matched by prefix in iproute2's order."""
    if not argv:
        return neigh_show(ctx, opts, [])
    word, rest = argv[0], argv[1:]
    for verb in ("add", "change", "replace", "delete", "get"):
        if matches(word, verb) or (verb == "change" and word == "chg"):
            raise unsupported(f"neighbour {verb}")
    if matches(word, "show") or matches(word, "lst") or matches(word, "list"):
        return neigh_show(ctx, opts, rest)
    if matches(word, "flush"):
        return neigh_flush(ctx, rest)
    if matches(word, "help"):
        raise unsupported("neighbour help")
    raise unknown_command(word, "neigh")
