"""Where a CNI plugin runs during grading, and which command-line tools it ran.

On the kernel the plugin runs in the world's sandbox host namespace (`nsenter --net`), with a
directory of recording wrappers first on its PATH: each wrapper notes its tool and arguments
in a log and execs the real tool, so the grader knows whether links, addresses and routes were
set with `ip` / `bridge` / `tc` or through netlink. On the simulator the plugin runs under the
simulated command line, whose shims act on the world and keep the same kind of log.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ctrnet.backend import LAUNCH_IN_NAMESPACE, SIMULATED_COMMAND_LINE, Backend
from ctrnet.errors import InvalidConfig

#: Tools whose use means "not through netlink" for links, addresses and routes.
NETLINK_TOOLS = ("ip", "bridge", "tc")
#: Every tool a plugin might run that the grader records (the netlink ones and the rest).
RECORDED_TOOLS = (*NETLINK_TOOLS, "iptables", "iptables-save", "iptables-restore", "ebtables",
                  "sysctl", "nsenter", "ping")
_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ToolRun:
    tool: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join((self.tool, *self.argv))


class RecordingLauncher(Protocol):
    """A cni.Launcher that also knows which tools the plugin ran."""

    def argv(self, plugin: str) -> list[str]: ...

    def env(self) -> dict[str, str]: ...

    def netns_path(self, ns: str) -> str: ...

    def tool_runs(self) -> list[ToolRun]: ...

    def close(self) -> None:
        """Stop whatever serves the plugin's processes; idempotent."""
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


class KernelLauncher:
    """Runs plugins in a KernelBackend's host namespace with recording wrappers on PATH and,
    for `ip`, `bridge` and `tc`, over the real binaries (see `argv`)."""

    def __init__(self, backend: Backend, workdir: Path) -> None:
        if LAUNCH_IN_NAMESPACE not in backend.capabilities:
            raise InvalidConfig(f"backend {backend.name!r} has no real namespaces to run in")
        self._backend = backend
        self.log = workdir / "tools.log"
        self.bindir = workdir / "bin"
        self.bindir.mkdir(parents=True, exist_ok=True)
        realdir = workdir / "real"
        realdir.mkdir(exist_ok=True)
        #: (the real binary, where the plugin's mount namespace shows it) per netlink tool
        self._hidden: list[tuple[str, Path]] = []
        for tool in RECORDED_TOOLS:
            found = shutil.which(tool, path=_SYSTEM_PATH)
            if found is None:
                continue
            target = found
            if tool in NETLINK_TOOLS:
                private = realdir / tool
                private.touch()  # a bind mount needs a file to cover
                self._hidden.append((os.path.realpath(found), private))
                target = str(private)
            wrapper = self.bindir / tool
            wrapper.write_text(
                "#!/bin/sh\n"
                f'printf "%s\\n" "{tool} $*" >> {shlex.quote(str(self.log))}\n'
                f'exec {shlex.quote(target)} "$@"\n'
            )
            wrapper.chmod(0o755)

    def argv(self, plugin: str) -> list[str]:
        """nsenter into the host namespace, then a private mount namespace in which the real
        `ip`, `bridge` and `tc` binaries are covered by their recording wrappers, so a plugin
        running /sbin/ip by its full path is recorded too. The mounts vanish with the plugin's
        processes and never reach the machine's mount namespace (private propagation)."""
        nsenter = shutil.which("nsenter", path=_SYSTEM_PATH) or "nsenter"
        host = f"--net={self._backend.netns_path(self._backend.host_ns)}"
        steps = []
        for real, private in self._hidden:
            wrapper = self.bindir / private.name
            steps.append(f"mount --bind {shlex.quote(real)} {shlex.quote(str(private))}")
            steps.append(f"mount --bind {shlex.quote(str(wrapper))} {shlex.quote(real)}")
        script = " && ".join([*steps, 'exec "$0" "$@"'])
        return [nsenter, host, "--", "unshare", "--mount", "--propagation", "private",
                "/bin/sh", "-c", script, plugin]

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bindir}:{_SYSTEM_PATH}"}

    def netns_path(self, ns: str) -> str:
        return self._backend.netns_path(ns)

    def tool_runs(self) -> list[ToolRun]:
        return read_log(self.log)

    def close(self) -> None:
        pass  # the wrappers and their log live in the workdir, removed with it


def launcher_for(backend: Backend, workdir: Path) -> RecordingLauncher:
    """The launcher that runs plugins in `backend`'s world."""
    if LAUNCH_IN_NAMESPACE in backend.capabilities:
        return KernelLauncher(backend, workdir)
    if SIMULATED_COMMAND_LINE in backend.capabilities:
        from ctrnet.grade.simlaunch import SimLauncher

        launcher: RecordingLauncher = SimLauncher(backend, workdir)
        return launcher
    raise InvalidConfig(f"CNI plugins cannot run on backend {backend.name!r}")
