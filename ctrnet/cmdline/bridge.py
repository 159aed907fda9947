"""`bridge` (iproute2 6.1) on a Backend: `link show|set` (port flags hairpin and learning) and
`fdb show|add|del` for the bridge's own ("master") entries, text and -j, with `-n NS`.
Unlike `ip`, `bridge` exits 255 for every failure, kernel refusals included.
"""

from __future__ import annotations

import re
from typing import Any

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported, matches, namespace_exists
from ctrnet.cmdline.ip_common import ArgReader, dump_json, rtnl_answer
from ctrnet.cmdline.linkfmt import LinkTable
from ctrnet.errors import CtrnetError
from ctrnet.types import FdbEntry, Link

VERSION = "bridge utility, 6.1.0\n"
_MAC = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")
_LINK_SET_USAGE = (
    "Usage: bridge link set dev DEV [ cost COST ] [ priority PRIO ] [ state STATE ]\n"
    "                               [ hairpin {on | off} ]\n"
    "                               [ learning {on | off} ]\n"
    "       bridge link show [dev DEV]\n"
)


def _unsupported(what: str) -> Unsupported:
    return Unsupported("bridge", what)


def _fail(message: str) -> CommandFailed:
    return CommandFailed(message, 255, fatal=True)


def _kernel_refused(err: CtrnetError) -> CommandFailed:
    return _fail(rtnl_answer(err))


def _find(ctx: Context, name: str) -> Link:
    for link in ctx.backend.link_list(ctx.ns):
        if link.name == name:
            return link
    raise _fail(f'Cannot find device "{name}"\n')


def _onoff(word: str, value: str) -> bool:
    if value not in ("on", "off"):
        raise _fail(f'Error: argument "{value}" is wrong: "{word}" must be "on" or "off"\n')
    return value == "on"


def link_show(ctx: Context, json: bool, details: bool, argv: list[str]) -> int:
    dev: str | None = None
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "dev":
            word = r.value()
        dev = _find(ctx, word).name
    table = LinkTable(ctx.backend, ctx.ns)
    entries: list[dict[str, Any]] = []
    for link in table.links:
        if link.master is None or link.port is None or (dev is not None and link.name != dev):
            continue
        entry: dict[str, Any] = {"ifindex": link.index}
        peer = table.peer_link(link) if link.peer is not None else None
        index = peer.index if peer is not None else 0
        # bridge/link.c prints "@…" only when IFLA_LINK differs from the device's own index
        # (seen on 6.1: a veth whose peer has the same index in another namespace shows no
        # "@", where `ip link` shows "@ifN").
        if link.peer is not None and index != link.index:
            # bridge/link.c resolves IFLA_LINK in the local namespace even when the peer is
            # elsewhere, so a remote peer's index can print as an unrelated local device.
            local = table.by_index.get(index) if table.is_remote_peer(link) else peer
            entry["link"] = local.name if local is not None else f"if{index}"
        entry["ifname"] = link.name
        entry["flags"] = [flag for flag in table.flags(link) if flag != "M-DOWN"]
        entry["mtu"] = link.mtu
        entry["master"] = link.master
        entry["state"] = link.port.state.name.lower()
        entry["priority"] = 32
        entry["cost"] = 2
        if details:
            entry["hairpin"] = link.port.hairpin
            entry["learning"] = link.port.learning
        entries.append(entry)
    if json:
        dump_json(ctx, entries)
        return 0
    for entry in entries:
        name = entry["ifname"] + (f"@{entry['link']}" if "link" in entry else "")
        line = (f"{entry['ifindex']}: {name}: <{','.join(entry['flags'])}> mtu {entry['mtu']} "
                f"master {entry['master']} state {entry['state']} priority 32 cost 2 \n")
        if details:
            line += (f"    hairpin {'on' if entry['hairpin'] else 'off'} guard off root_block off "
                     f"fastleave off learning {'on' if entry['learning'] else 'off'} flood on \n")
        ctx.out(line)
    return 0


def link_set(ctx: Context, argv: list[str]) -> int:
    dev: str | None = None
    hairpin: bool | None = None
    learning: bool | None = None
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "dev":
            dev = r.value()
        elif word == "hairpin":
            hairpin = _onoff(word, r.value())
        elif word == "learning":
            learning = _onoff(word, r.value())
        elif word in ("master", "self"):
            continue
        else:
            raise _unsupported(f"link set option {word!r}")
    if dev is None:
        raise _fail(_LINK_SET_USAGE + "Device is a required argument.\n")
    if dev not in {link.name for link in ctx.backend.link_list(ctx.ns)}:
        raise _fail(f'Cannot find bridge device "{dev}"\n')
    link = _find(ctx, dev)
    try:
        ctx.backend.bridge_port_set(ctx.ns, link.name, hairpin=hairpin, learning=learning)
    except CtrnetError as err:
        raise _kernel_refused(err) from err
    return 0


def _fdb_state(entry: FdbEntry) -> str:
    return "permanent" if entry.local else "static" if entry.static else ""


def fdb_show(ctx: Context, json: bool, argv: list[str]) -> int:
    bridge: str | None = None
    dev: str | None = None
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "br":
            bridge = r.value()
            if bridge not in {link.name for link in ctx.backend.link_list(ctx.ns)}:
                raise _fail(f'Cannot find bridge device "{bridge}"\n')
        elif word in ("brport", "dev"):
            dev = _find(ctx, r.value()).name
        else:
            raise _unsupported(f"fdb show filter {word!r}")
    entries: list[dict[str, Any]] = []
    for fdb in ctx.backend.fdb_list(ctx.ns, bridge):
        if dev is not None and fdb.port != dev:
            continue
        entry: dict[str, Any] = {"mac": fdb.mac}
        if dev is None:
            entry["ifname"] = fdb.port
        entry["flags"] = []
        entry["master"] = fdb.bridge
        entry["state"] = _fdb_state(fdb)
        entries.append(entry)
    if json:
        dump_json(ctx, entries)
        return 0
    for entry in entries:
        where = f"dev {entry['ifname']} " if "ifname" in entry else ""
        ctx.out(f"{entry['mac']} {where}master {entry['master']} {entry['state']}\n")
    return 0


#: The ndm_state bits bridge/fdb.c sets (include/uapi/linux/neighbour.h).
_NUD_REACHABLE, _NUD_NOARP, _NUD_PERMANENT = 0x02, 0x40, 0x80


def _fdb_kind(state: int) -> str:
    """What fdb_add_entry() makes of ndm_state: PERMANENT a local entry, NOARP a static
    one, anything else a dynamic (ageing) one."""
    if state & _NUD_PERMANENT:
        return "permanent"
    return "static" if state & _NUD_NOARP else "dynamic"


def fdb_modify(ctx: Context, argv: list[str], add: bool, replace: bool = False) -> int:
    """fdb_modify() of bridge/fdb.c: ndm_state starts as NUD_NOARP; `local`/`permanent` add
    NUD_PERMANENT, `static`/`temp` NUD_REACHABLE, `dynamic` swaps NOARP for REACHABLE; with
    neither PERMANENT nor REACHABLE the entry is permanent ("Assume permanent")."""
    mac: str | None = None
    dev: str | None = None
    master = False
    state = _NUD_NOARP
    r = ArgReader(argv)
    while r:
        word = r.take()
        if word == "dev":
            dev = r.value()
        elif matches(word, "master"):
            master = True
        elif matches(word, "local") or matches(word, "permanent"):
            state |= _NUD_PERMANENT
        elif matches(word, "temp") or matches(word, "static"):
            state |= _NUD_REACHABLE
        elif matches(word, "dynamic"):
            state = (state & ~_NUD_NOARP) | _NUD_REACHABLE
        elif word in ("self", "vlan", "dst", "port", "vni", "via", "src_vni", "router", "use",
                      "extern_learn", "sticky", "nhid", "norouter"):
            raise _unsupported(f"fdb option {word!r}")
        else:
            if mac is not None:
                raise _unsupported(f"fdb argument {word!r}")
            if not _MAC.match(word):
                raise _fail(f"Invalid mac address {word}\n")
            mac = ":".join(f"{int(part, 16):02x}" for part in word.split(":"))
    if dev is None or mac is None:
        raise _fail("Device and address are required arguments.\n")
    port = _find(ctx, dev)
    if not master:
        # Without "master" the entry goes to the device's own table (NTF_SELF): not modelled.
        raise _unsupported("fdb entries without 'master'")
    if not state & (_NUD_PERMANENT | _NUD_REACHABLE):
        state |= _NUD_PERMANENT
    try:
        if add:
            ctx.backend.fdb_set(ctx.ns, port.name, mac, kind=_fdb_kind(state), replace=replace)
        else:
            ctx.backend.fdb_delete(ctx.ns, port.name, mac)
    except NotImplementedError:
        raise _unsupported("fdb add/replace with a state on this backend") from None
    except CtrnetError as err:
        raise _kernel_refused(err) from err
    return 0


def main(argv: list[str], ctx: Context) -> int:
    json = False
    details = False
    args = list(argv)
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt.startswith("--"):
            opt = opt[1:]
        if matches(opt, "-Version"):
            ctx.out(VERSION)
            return 0
        if matches(opt, "-details"):
            details = True
        elif matches(opt, "-netns"):
            if not args:
                raise _fail("Usage: bridge [ OPTIONS ] OBJECT { COMMAND | help }\n")
            ns = args.pop(0)
            if not namespace_exists(ctx, ns):
                raise _fail(f'Cannot open network namespace "{ns}": No such file or directory\n')
            ctx = ctx.in_namespace(ns)
        elif matches(opt.split("=", 1)[0], "-color"):
            if opt.partition("=")[2] == "always":
                raise _unsupported("-color=always")
        elif matches(opt, "-json"):
            json = True
        elif any(matches(opt, o) for o in ("-help", "-stats", "-oneline", "-timestamp",
                                            "-family", "-4", "-6", "-compressvlans", "-force",
                                            "-pretty", "-batch")):
            raise _unsupported(f"option {opt}")
        else:
            raise _fail(f'Option "{opt}" is unknown, try "bridge help".\n')
    if not args:
        raise _fail("Usage: bridge [ OPTIONS ] OBJECT { COMMAND | help }\n")
    obj, rest = args[0], args[1:]
    if matches(obj, "link"):
        if not rest or matches(rest[0], "show") or matches(rest[0], "lst") \
                or matches(rest[0], "list"):
            return link_show(ctx, json, details, rest[1:])
        if matches(rest[0], "set") or matches(rest[0], "change"):
            return link_set(ctx, rest[1:])
        raise _fail(f'Command "{rest[0]}" is unknown, try "bridge link help".\n')
    if matches(obj, "fdb"):
        if not rest or matches(rest[0], "show") or matches(rest[0], "list") \
                or matches(rest[0], "lst"):
            return fdb_show(ctx, json, rest[1:])
        if matches(rest[0], "add"):
            return fdb_modify(ctx, rest[1:], add=True)
        if matches(rest[0], "delete"):
            return fdb_modify(ctx, rest[1:], add=False)
        if matches(rest[0], "replace") or matches(rest[0], "append"):
            # Both lack NLM_F_EXCL: an existing bridge entry is updated (fdb_add_entry).
            return fdb_modify(ctx, rest[1:], add=True, replace=True)
        if any(matches(rest[0], c) for c in ("get", "flush", "help")):
            raise _unsupported(f"fdb {rest[0]}")
        raise _fail(f'Command "{rest[0]}" is unknown, try "bridge fdb help".\n')
    if any(matches(obj, o) for o in ("mdb", "vlan", "vni", "monitor", "help")):
        raise _unsupported(f"object {obj!r}")
    raise _fail(f'Object "{obj}" is unknown, try "bridge help".\n')


def run(argv: list[str], ctx: Context) -> int:
    """`bridge ARGS…` (argv without the program name); returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
