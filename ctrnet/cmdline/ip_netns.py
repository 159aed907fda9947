"""`ip netns`: add, delete, list (with the `(id: N)` the host namespace has assigned) and exec,
which hands the command to the context's exec hook: running a process is not this layer's job.
"""

from __future__ import annotations

import errno
import os

from ctrnet.cmdline.context import CommandFailed, Context, matches, namespace_exists
from ctrnet.cmdline.ip_common import IpOptions, dump_json, unknown_command, unsupported
from ctrnet.cmdline.linkfmt import LinkTable
from ctrnet.errors import CtrnetError


def _check_name(name: str) -> None:
    # netns_add()/netns_delete() refuse names that are not a single path component.
    if not name or "/" in name or name in (".", ".."):
        raise CommandFailed(f'Invalid netns name "{name}"\n', 255, fatal=True)


def netns_add(ctx: Context, argv: list[str]) -> int:
    if not argv:
        raise CommandFailed("No netns name specified\n", 255, fatal=True)
    if len(argv) != 1:
        raise unsupported("netns add with extra arguments")
    name = argv[0]
    _check_name(name)
    try:
        ctx.backend.netns_add(name)
    except CtrnetError as err:
        reason = os.strerror(err.errno or errno.EIO)
        raise CommandFailed(
            f'Cannot create namespace file "/run/netns/{name}": {reason}\n', 1
        ) from err
    return 0


def netns_delete(ctx: Context, argv: list[str]) -> int:
    if not argv:
        raise CommandFailed("No netns name specified\n", 255, fatal=True)
    if argv[0] == "-all" or len(argv) != 1:
        raise unsupported("netns delete -all / several names")
    name = argv[0]
    _check_name(name)
    try:
        ctx.backend.netns_delete(name)
    except CtrnetError as err:
        raise CommandFailed(
            f'Cannot remove namespace file "/run/netns/{name}": No such file or directory\n', 1
        ) from err
    return 0


def netns_list(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    if argv:
        raise unsupported("netns list arguments")
    # The ids are the netnsids the current namespace assigned, i.e. the namespaces its veths'
    # peers live in (see LinkTable.nsids).
    ids = LinkTable(ctx.backend, ctx.ns).nsids
    names = ctx.netns_order() if ctx.netns_order is not None else ctx.backend.netns_list()
    if opts.json:
        dump_json(ctx, [{"name": n} | ({"id": ids[n]} if n in ids else {}) for n in names])
        return 0
    for name in names:
        ctx.out(f"{name} (id: {ids[name]})\n" if name in ids else f"{name}\n")
    return 0


def netns_exec(ctx: Context, argv: list[str]) -> int:
    if not argv:
        raise CommandFailed("No netns name specified\n", 255, fatal=True)
    name, command = argv[0], argv[1:]
    if not namespace_exists(ctx, name):
        raise CommandFailed(
            f'Cannot open network namespace "{name}": No such file or directory\n', 255,
            fatal=True)
    if not command:
        raise CommandFailed("No command specified\n", 1)
    return ctx.exec_in_namespace(name, command)


def netns_identify(ctx: Context, argv: list[str]) -> int:
    """`ip netns identify` (of the calling process): the names its namespace is mounted
    under, space separated — an empty line for the host namespace, which has none."""
    if argv:
        raise unsupported("netns identify PID")
    ctx.out(f"{ctx.ns}\n" if ctx.ns != ctx.backend.host_ns else "\n")
    return 0


def do_netns(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    """do_netns(): subcommands matched by prefix in iproute2's order."""
    if not argv:
        return netns_list(ctx, opts, [])
    word, rest = argv[0], argv[1:]
    if matches(word, "list") or matches(word, "show") or matches(word, "lst"):
        return netns_list(ctx, opts, rest)
    if matches(word, "list-id") or matches(word, "help"):
        raise unsupported(f"netns {word}")
    if matches(word, "add"):
        return netns_add(ctx, rest)
    if matches(word, "set"):
        raise unsupported("netns set")
    if matches(word, "delete"):
        return netns_delete(ctx, rest)
    if matches(word, "identify"):
        return netns_identify(ctx, rest)
    if matches(word, "pids"):
        raise unsupported(f"netns {word}")
    if matches(word, "exec"):
        return netns_exec(ctx, rest)
    if matches(word, "monitor") or matches(word, "attach"):
        raise unsupported(f"netns {word}")
    raise unknown_command(word, "netns")
