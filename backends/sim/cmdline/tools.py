"""The tools the shims name, on the server side: each runs one invocation against the world.

`ip`, `bridge`, `sysctl`, `ping` are ctrnet.cmdline's front-ends run under the world lock;
`sleep` blocks on the virtual clock; `ip netns exec` and `nsenter` answer with an exec in the
namespace, which the shim performs itself (so CMD is a real process: `sh -c`, `timeout`…).
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING

from ctrnet.backends.sim.cmdline.scheduler import Cancelled
from ctrnet.backends.sim.cmdline.server import ExecRequested, Invocation, Server
from ctrnet.cmdline import TOOLS as FRONT_ENDS
from ctrnet.cmdline import sleep as sleep_tool
from ctrnet.cmdline.context import CommandFailed, Context, Unsupported, namespace_exists
from ctrnet.cmdline.iptables import restore_options
from ctrnet.netfilter.ebtables import EbtablesFilter
from ctrnet.netfilter.ruleset import Ruleset

if TYPE_CHECKING:
    from ctrnet.backends.sim.nfstate import NfState

_NETNS_DIRS = ("/var/run/netns/", "/run/netns/")


def context(server: Server, inv: Invocation, stdin: str = "") -> Context:
    """The front-end's view of one invocation: world, namespace, streams, exec hook."""

    def exec_hook(ns: str, argv: list[str]) -> int:
        raise ExecRequested(ns, argv)

    def ruleset_hook(ns: str) -> Ruleset:
        return _nf_state(server, ns).rules

    def ebtables_hook(ns: str) -> EbtablesFilter:
        state = _nf_state(server, ns)
        if state.ebtables is None:
            state.ebtables = EbtablesFilter()
        table: EbtablesFilter = state.ebtables
        return table

    return Context(backend=server.backend, ns=inv.ns or server.backend.host_ns,
                   stdin=io.StringIO(stdin), stdout=inv.stdout, stderr=inv.stderr,
                   env=inv.env, exec_hook=exec_hook, ruleset_hook=ruleset_hook,
                   ebtables_hook=ebtables_hook, netns_order=lambda: netns_order(server))


def netns_order(server: Server) -> list[str]:
    """`ip netns list` order: /run/netns is a tmpfs, which lists newest entries first; the
    world keeps its namespaces in creation order (a re-added name goes to the end)."""
    host = server.backend.host_ns
    return [n for n in reversed(server.backend.world.namespaces) if n != host]


def _nf_state(server: Server, ns: str) -> NfState:
    # The simulator's per-namespace netfilter state; iptables verbs the Backend protocol
    # cannot express (-L -v, -D CHAIN N, -C) act on its Ruleset directly.
    from ctrnet.backends.sim.netfilter import nf_state

    world = server.backend.world
    space = world.ns(ns)
    if not hasattr(space, "nf"):
        raise Unsupported("iptables", "netfilter in this simulator build")
    return nf_state(world, space)


def _reads_stdin(tool: str, argv: list[str]) -> bool:
    """Whether the tool reads its stdin: the server reads it all before taking the lock, so a
    producer that is itself a shim (`iptables-save | iptables-restore`) is never locked out."""
    if tool in ("ip", "bridge"):
        return any(a in ("-batch", "-b", "--batch", "-ba", "-bat", "-batc") for a in argv) \
            and "-" in argv
    if tool == "iptables-restore":
        try:
            _, source = restore_options(argv)
        except CommandFailed:
            return False
        return source in (None, "-")
    return False


def front_end(server: Server, inv: Invocation) -> int:
    """One of ctrnet.cmdline's tools, run with the world locked."""
    stdin = ""
    if _reads_stdin(inv.tool, inv.argv):
        stdin = server.scheduler.blocked_reading(inv.pid, inv.fds.get(0), inv.read_stdin)
    with server.lock:
        if inv.ns and not namespace_exists_in(server, inv.ns):
            inv.stderr.write(f"ctrnet sim: {inv.tool}: namespace {inv.ns!r} was deleted\n")
            return 1
        server.locked_cwd(inv)
        ctx = context(server, inv, stdin)
        try:
            return FRONT_ENDS[inv.tool](inv.argv, ctx)
        finally:
            server.scheduler.changed()


def namespace_exists_in(server: Server, ns: str) -> bool:
    return ns == server.backend.host_ns or ns in server.backend.netns_list()


def sleep(server: Server, inv: Invocation) -> int:
    """`sleep N`: blocks until the scheduler has moved the virtual clock N seconds on."""
    ctx = context(server, inv)
    try:
        seconds = sleep_tool.duration(inv.argv, ctx)
    except CommandFailed as failure:
        inv.stderr.write(failure.message)
        return failure.status
    try:
        server.scheduler.sleep(inv.pid, seconds)
    except Cancelled:
        return 143
    return 0


def nsenter(server: Server, inv: Invocation) -> int:
    """`nsenter --net=/var/run/netns/NAME [CMD…]` (util-linux): CMD, or $SHELL, runs in NAME."""
    argv = list(inv.argv)
    target: str | None = None
    while argv and argv[0].startswith("-") and argv[0] != "-":
        opt = argv.pop(0)
        if opt == "--":
            break
        if opt.startswith("--net=") or opt.startswith("-n") and len(opt) > 2:
            target = opt.split("=", 1)[1] if opt.startswith("--net=") else opt[2:]
            target = target.lstrip("=")
        else:
            inv.stderr.write(Unsupported("nsenter", f"option {opt}").message)
            return 2
    if target is None:
        inv.stderr.write(Unsupported("nsenter", "entering without --net=FILE").message)
        return 2
    name = next((target[len(d):] for d in _NETNS_DIRS if target.startswith(d)), None)
    if name is None or "/" in name or not name:
        inv.stderr.write(Unsupported("nsenter", f"--net={target} (only /run/netns/NAME)")
                         .message)
        return 2
    with server.lock:
        known = namespace_exists(context(server, inv), name)
    if not known:
        inv.stderr.write(f"nsenter: cannot open {target}: No such file or directory\n")
        return 1
    command = argv or [inv.env.get("SHELL", "/bin/sh")]
    raise ExecRequested(name, command, style="nsenter")


def timeout(server: Server, inv: Invocation) -> int:
    """`timeout DURATION COMMAND…` on the virtual clock: the shim execs vtimeout.py (see its
    docstring for why the real one, counting real seconds, cannot be used)."""
    del server
    from ctrnet.backends.sim.cmdline import vtimeout

    raise ExecRequested(inv.ns, [sys.executable, "-IS", vtimeout.__file__, *inv.argv],
                        style="nsenter")
