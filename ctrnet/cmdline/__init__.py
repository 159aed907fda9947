"""The simulated command line's front-end: pure-Python `ip`, `bridge`, `sysctl`, `ping`,
`sleep` and `tc qdisc … tbf` acting on any Backend, and `iptables*`, `ebtables` acting on a
backend's rule model. Each tool is `run(argv, ctx) -> exit status`, argv without the
program name; `dispatch(tool, argv, ctx)` picks the tool by name. Output, messages and exit
statuses follow iproute2 6.1, procps-ng 4 and iputils as Debian 12 ships them.
"""

from __future__ import annotations

from collections.abc import Callable

from ctrnet.cmdline import bridge, ebtables, ip, iptables, ping, sleep, sysctl, tc, tcpdump
from ctrnet.cmdline.context import CommandFailed, Context, Unsupported

Tool = Callable[[list[str], Context], int]

TOOLS: dict[str, Tool] = {
    "ip": ip.run,
    "bridge": bridge.run,
    "sysctl": sysctl.run,
    "ping": ping.run,
    "sleep": sleep.run,
    "iptables": iptables.run,
    "iptables-save": iptables.run_save,
    "iptables-restore": iptables.run_restore,
    "ebtables": ebtables.run,
    "tc": tc.run,
    "tcpdump": tcpdump.run,
}


def dispatch(tool: str, argv: list[str], ctx: Context) -> int:
    """Run `tool` (a name of TOOLS, or a path ending in one) with `argv`; its exit status."""
    name = tool.rsplit("/", 1)[-1]
    try:
        runner = TOOLS[name]
    except KeyError:
        ctx.err(f"ctrnet sim: {name}: command not found\n")
        return 127
    return runner(argv, ctx)


__all__ = ["TOOLS", "CommandFailed", "Context", "Unsupported", "dispatch"]
