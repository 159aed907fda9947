"""`ip neighbour`: show (text and -j, as ipneigh.c prints entries; NOARP entries hidden, as
by iproute2's default filter), flush (which, like the kernel's, leaves permanent and NOARP
entries), add / replace / change (default `nud permanent`) and delete.
"""

from __future__ import annotations

import errno
import ipaddress
from dataclasses import dataclass
from typing import Any

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported, matches
from ctrnet.cmdline.ip_common import (
    ArgReader,
    IpOptions,
    dump_json,
    find_link,
    invarg,
    kernel_call,
    no_device,
    unknown_command,
    unsupported,
)
from ctrnet.types import NeighState

#: nud_state_a2n(): the names `nud` takes (`none` is refused: such an entry is invisible and
#: the simulator does not keep it).
_NUD = {"permanent": NeighState.PERMANENT, "reachable": NeighState.REACHABLE,
        "noarp": NeighState.NOARP, "stale": NeighState.STALE,
        "incomplete": NeighState.INCOMPLETE, "delay": NeighState.DELAY,
        "probe": NeighState.PROBE, "failed": NeighState.FAILED}
_NO_ADDRESS_STATES = (NeighState.INCOMPLETE, NeighState.FAILED)


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
        if not selected.admits(neigh.ip) or neigh.state is NeighState.NOARP:
            continue  # do_show_or_flush: filter.state = 0xFF & ~NUD_NOARP
        entry: dict[str, Any] = {"dst": neigh.ip}
        if dev is None:
            entry["dev"] = neigh.ifname
        if neigh.mac and neigh.state not in _NO_ADDRESS_STATES:
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


def _lladdr(text: str) -> str:
    """ll_addr_a2n(): hex bytes separated by colons; the kernel wants at least six."""
    parts = text.split(":")
    if not all(0 < len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p)
               for p in parts):
        raise Unsupported("ip", f"lladdr {text!r} (only colon-separated hex bytes)")
    if len(parts) < 6:
        raise CommandFailed("Error: Invalid link address.\n", 2)
    return ":".join(f"{int(p, 16):02x}" for p in parts[:6])


def neigh_modify(ctx: Context, verb: str, argv: list[str]) -> int:
    """ipneigh_modify(): RTM_NEWNEIGH (add: CREATE|EXCL, replace: CREATE|REPLACE, change:
    REPLACE) or RTM_DELNEIGH."""
    lladdr: str | None = None
    state = NeighState.PERMANENT
    dev: str | None = None
    dst: str | None = None
    r = ArgReader(argv)
    while r:
        word = r.take()
        if matches(word, "lladdr"):
            lladdr = r.value()
        elif word == "nud":
            name = r.value()
            if name == "none":
                raise unsupported("nud none (an entry in state NONE)")
            if name not in _NUD:
                raise invarg("nud state is bad", name)
            state = _NUD[name]
        elif word == "dev":
            dev = r.value()
        elif any(matches(word, k) for k in ("proxy", "router", "extern_learn", "protocol",
                                            "use", "managed")):
            raise unsupported(f"neighbour {verb} {word!r}")
        else:
            if word == "to":
                word = r.value()
            if dst is not None:
                raise unsupported(f"neighbour {verb} with two destinations")
            try:
                dst = str(ipaddress.IPv4Address(word))
            except ValueError:
                raise unsupported(f"neighbour destination {word!r} (only IPv4 addresses)") \
                    from None
    if dev is None or dst is None:
        raise CommandFailed("Device and destination are required arguments.\n", 255,
                            fatal=True)
    mac = _lladdr(lladdr) if lladdr is not None and lladdr != "null" else None
    link = next((link for link in ctx.backend.link_list(ctx.ns) if link.name == dev), None)
    if link is None:
        raise no_device(dev)
    try:
        with kernel_call({errno.EINVAL: "No link layer address given."}):
            if verb == "delete":
                ctx.backend.neigh_delete(ctx.ns, dev, dst)
            else:
                ctx.backend.neigh_set(ctx.ns, dev, dst, mac, state,
                                      create=verb in ("add", "replace"),
                                      exclusive=verb == "add")
    except NotImplementedError:
        raise unsupported(f"neighbour {verb} on this backend") from None
    return 0


def do_neigh(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    """do_ipneigh(): subcommands matched by prefix in iproute2's order."""
    if not argv:
        return neigh_show(ctx, opts, [])
    word, rest = argv[0], argv[1:]
    for verb in ("add", "change", "replace", "delete"):
        if matches(word, verb) or (verb == "change" and word == "chg"):
            return neigh_modify(ctx, verb, rest)
    if matches(word, "get"):
        raise unsupported("neighbour get")
    if matches(word, "show") or matches(word, "lst") or matches(word, "list"):
        return neigh_show(ctx, opts, rest)
    if matches(word, "flush"):
        return neigh_flush(ctx, rest)
    if matches(word, "help"):
        raise unsupported("neighbour help")
    raise unknown_command(word, "neigh")
