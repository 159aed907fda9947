"""What every plugin launcher is: the protocol `cni.Plugin` runs a plugin through, and the
record of the tools a plugin ran (for the netlink item).

A launcher owns *how* a plugin process runs (`ctrnet.grade.sandbox`: never as the machine's
root, within limits) and *where* (the world's host namespace on the kernel, the simulated
command line on the simulator). The implementations live in `ctrnet.grade.launch` (kernel)
and `ctrnet.backends.sim.cmdline.launcher` (simulator, made through `ctrnet.registry`); this
module sits below both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ctrnet.grade.sandbox import Finished

#: Tools whose use means "not through netlink" for links, addresses and routes.
NETLINK_TOOLS = ("ip", "bridge", "tc")
#: Every tool a plugin might run that the grader records (the netlink ones and the rest).
RECORDED_TOOLS = (*NETLINK_TOOLS, "iptables", "iptables-save", "iptables-restore", "ebtables",
                  "sysctl", "nsenter", "ping")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ToolRun:
    tool: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.tool, *self.argv))


class Launcher(Protocol):
    """Where and how a plugin process runs."""

    def run(self, plugin: str, *, stdin: str, env: dict[str, str], timeout: float,
            data_dir: str) -> Finished:
        """Run `plugin` once with `env` added to what the launcher sets (PATH, …), `stdin`
        on its standard input, `data_dir` writable by it, killed after `timeout` seconds."""
        ...

    def netns_path(self, ns: str) -> str:
        """What CNI_NETNS is for the world's namespace `ns`."""
        ...


class RecordingLauncher(Launcher, Protocol):
    """A Launcher that also knows which tools the plugin ran."""

    def tool_runs(self) -> list[ToolRun]: ...

    def close(self) -> None:
        """Stop whatever serves the plugin's processes, remove what they left; idempotent."""
        ...


def read_log(path: Path) -> list[ToolRun]:
    """The log the wrappers (or the simulator's shims) write: one run per line, the tool's
    name then its arguments separated by spaces (for display only: not re-quoted)."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(errors="replace").splitlines():
        words = line.split()
        if words:
            runs.append(ToolRun(os.path.basename(words[0]), tuple(words[1:])))
    return runs
