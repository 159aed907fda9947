"""`ip` (iproute2 6.1) on a Backend: the global options (-n, -j, -br, -d, -o, -4, -batch,
-force), the object table matched by prefix in ip.c's order (`ip a`, `ip r`, `ip n`, `ip l`),
and batch mode with its "Command failed FILE:LINE" reports.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable

from ctrnet.cmdline.context import CommandFailed, Context, matches, namespace_exists
from ctrnet.cmdline.ip_addr import do_addr
from ctrnet.cmdline.ip_common import Handler, IpOptions, unsupported
from ctrnet.cmdline.ip_link import do_link
from ctrnet.cmdline.ip_neigh import do_neigh
from ctrnet.cmdline.ip_netns import do_netns
from ctrnet.cmdline.ip_route import do_route

VERSION = "ip utility, iproute2-6.1.0, libbpf 1.1.2\n"
USAGE = (
    "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n"
    "       ip [ -force ] -batch filename\n"
    "where  OBJECT := { address | addrlabel | amt | fou | help | ila | ioam | l2tp | link |\n"
    "                   macsec | maddress | monitor | mptcp | mroute | mrule |\n"
    "                   neighbor | neighbour | netconf | netns | nexthop | ntable |\n"
    "                   ntbl | route | rule | sr | stats | tap | tcpmetrics |\n"
    "                   token | tunnel | tuntap | vrf | xfrm }\n"
)

#: ip.c's cmds[], in order: the first entry the word is a prefix of wins. None: not here.
OBJECTS: tuple[tuple[str, Handler | None], ...] = (
    ("address", do_addr), ("addrlabel", None), ("maddress", None), ("route", do_route),
    ("rule", None), ("neighbor", do_neigh), ("neighbour", do_neigh), ("ntable", None),
    ("ntbl", None), ("link", do_link), ("l2tp", None), ("fou", None), ("ila", None),
    ("macsec", None), ("tunnel", None), ("tunl", None), ("tuntap", None), ("tap", None),
    ("token", None), ("tcpmetrics", None), ("tcp_metrics", None), ("monitor", None),
    ("xfrm", None), ("mroute", None), ("mrule", None), ("netns", do_netns),
    ("netconf", None), ("vrf", None), ("sr", None), ("nexthop", None), ("mptcp", None),
    ("ioam", None), ("help", None), ("stats", None),
)

#: Options that change nothing for this front-end's output: colour is off on a pipe, and
#: -N/-h only change numbers this front-end never resolves or scales.
_HARMLESS = ("-color", "-Numeric", "-human", "-human-readable")
_UNSUPPORTED = ("-loops", "-6", "-0", "-M", "-B", "-iec", "-stats", "-statistics",
                "-resolve", "-timestamp", "-tshort", "-pretty", "-rcvbuf", "-all", "-echo",
                "-help")


def do_cmd(ctx: Context, opts: IpOptions, argv: list[str]) -> int:
    word, rest = argv[0], argv[1:]
    for name, handler in OBJECTS:
        if matches(word, name):
            if handler is None:
                raise unsupported(f"object {name!r}")
            return handler(ctx, opts, rest)
    raise CommandFailed(f'Object "{word}" is unknown, try "ip help".\n', 1)


def _batch_lines(ctx: Context, name: str) -> Iterable[str]:
    if name == "-":
        return ctx.stdin.read().splitlines()
    try:
        with open(name, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except OSError as err:
        raise CommandFailed(f"Cannot open file \"{name}\" for reading: {err.strerror}\n", 255,
                            fatal=True) from err


def batch(ctx: Context, opts: IpOptions, name: str, force: bool) -> int:
    status = 0
    for lineno, line in enumerate(_batch_lines(ctx, name), start=1):
        argv = shlex.split(line, comments=True)
        if not argv:
            continue
        try:
            if do_cmd(ctx, opts, argv) == 0:
                continue
        except CommandFailed as failure:
            ctx.err(failure.message)
            if failure.fatal:
                # The real tool exit()s in the middle of the batch: no report, no next line.
                return failure.status
        ctx.err(f"Command failed {name}:{lineno}\n")
        status = 1
        if not force:
            break
    return status


def main(argv: list[str], ctx: Context) -> int:
    opts = IpOptions()
    batch_file: str | None = None
    force = False
    args = list(argv)
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "--":
            break
        if opt.startswith("--"):
            opt = opt[1:]
        if opt == "-4" or (matches(opt, "-family") and args and args[0] == "inet"):
            if opt != "-4":
                args.pop(0)
            opts = dataclasses.replace(opts, inet_only=True)
        elif matches(opt, "-family"):
            raise unsupported(f"-family {args[0] if args else ''}".strip())
        elif matches(opt, "-details"):
            opts = dataclasses.replace(opts, details=True)
        elif matches(opt, "-oneline"):
            opts = dataclasses.replace(opts, oneline=True)
        elif matches(opt, "-Version"):
            ctx.out(VERSION)
            return 0
        elif matches(opt, "-force"):
            force = True
        elif matches(opt, "-batch"):
            if not args:
                raise CommandFailed(USAGE, 255, fatal=True)
            batch_file = args.pop(0)
        elif matches(opt, "-brief"):
            opts = dataclasses.replace(opts, brief=True)
        elif matches(opt, "-json"):
            opts = dataclasses.replace(opts, json=True)
        elif opt.split("=", 1)[0] == "-c" or matches(opt.split("=", 1)[0], "-color"):
            if opt.partition("=")[2] == "always":
                raise unsupported("-color=always")
        elif matches(opt, "-netns"):
            if not args:
                raise CommandFailed(USAGE, 255, fatal=True)
            ns = args.pop(0)
            if not namespace_exists(ctx, ns):
                raise CommandFailed(
                    f'Cannot open network namespace "{ns}": No such file or directory\n', 255,
                    fatal=True)
            ctx = ctx.in_namespace(ns)
        elif any(matches(opt, h) for h in _HARMLESS):
            pass
        elif any(opt == u or (len(u) > 2 and matches(opt, u)) for u in _UNSUPPORTED):
            raise unsupported(f"option {opt}")
        else:
            raise CommandFailed(f'Option "{opt}" is unknown, try "ip -help".\n', 255,
                                fatal=True)
    if batch_file is not None:
        return batch(ctx, opts, batch_file, force)
    if not args:
        raise CommandFailed(USAGE, 255, fatal=True)
    return do_cmd(ctx, opts, args)


def run(argv: list[str], ctx: Context) -> int:
    """`ip ARGS…` (argv without the program name); returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
