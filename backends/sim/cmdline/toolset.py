"""The server's table of tools: every shim name and the function that answers it. It sits
above every tool module (`tools`, `netcat`, `tcpdump_tool`, `conntrack_tool`, `ctrnet_tool`,
`refused`), which build on `tools`: none of them imports the table back.
"""

from __future__ import annotations

from ctrnet.backends.sim.cmdline import (
    conntrack_tool,
    ctrnet_tool,
    netcat,
    refused,
    tcpdump_tool,
)
from ctrnet.backends.sim.cmdline.server import Tool
from ctrnet.backends.sim.cmdline.tools import front_end, nsenter, sleep, timeout
from ctrnet.cmdline import TOOLS as FRONT_ENDS


def default_tools() -> dict[str, Tool]:
    """The server's table: every shim name and the function that answers it."""
    tools: dict[str, Tool] = {name: front_end for name in FRONT_ENDS if name != "sleep"}
    tools["sleep"] = sleep
    tools["nsenter"] = nsenter
    tools["ctrnet"] = ctrnet_tool.run  # world commands act on the run's world
    # Debian's `nc` is an alternative for nc.openbsd; `netcat` names the same program.
    for name in ("nc", "nc.openbsd", "netcat"):
        tools[name] = netcat.run
    tools["conntrack"] = conntrack_tool.run
    tools["tcpdump"] = tcpdump_tool.run
    tools["timeout"] = timeout
    for name in refused.UNSIMULATED:
        tools.setdefault(name, refused.refuse)
    return tools
