"""The simulated command line's front-end: pure-Python `ip`, `bridge`, `sysctl`, `ping` and
`sleep` acting on any Backend. Each tool is `run(argv, ctx) -> exit status`, argv without the
program name; `dispatch(tool, argv, ctx)` picks the tool by name. Output, messages and exit
statuses follow iproute2 6.1, procps-ng 4 and iputils as Debian 12 ships them.
"""

from __future__ import annotations

from collections.abc import Callable

from ctrnet.cmdline import bridge, ip, ping, sleep, sysctl
from ctrnet.cmdline.context import CommandFailed, Context, Unsupported

Tool = Callable[[list[str], Context], int]

TOOLS: dict[str, Tool] = {
    "ip": ip.run,
    "bridge": bridge.run,
    "sysctl": sysctl.run,
    "ping": ping.run,
    "sleep": sleep.run,
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
