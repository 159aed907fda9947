"""Running a CNI plugin on the simulator: under the simulated command line.

The grading world (a SimBackend) is served to the plugin's processes by the simulated
command line's server, in this process; its shims (`ip`, `iptables`, `sysctl`, `nsenter`…)
go first on the plugin's PATH. Every tool the plugin runs is recorded on the way in, for the
netlink item. A plugin that speaks netlink itself cannot run here (there is no simulated
kernel socket): the grader says so and points to `--backend kernel`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from ctrnet.backend import Backend
from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.cmdline import client, run, server
from ctrnet.backends.sim.cmdline import tools as tools_module
from ctrnet.errors import CtrnetError
from ctrnet.grade.launch import ToolRun

_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class SimLauncher:
    """Serves `backend`'s world to plugin processes; `close` stops the server."""

    def __init__(self, backend: Backend, workdir: Path) -> None:
        if not isinstance(backend, SimBackend):  # the command line serves simulated worlds only
            raise CtrnetError(f"backend {backend.name!r} cannot be served to the simulated "
                              "command line")
        self._backend = backend
        self._runs: list[ToolRun] = []
        self._runs_lock = threading.Lock()
        # A unix socket path must fit in 108 bytes: a short private directory, not workdir.
        self._private = Path(tempfile.mkdtemp(prefix="ctrnet-grade-sim-"))
        bindir = self._private / "bin"
        bindir.mkdir()
        run.install_shims(bindir)
        tools = {name: self._recording(name, tool)
                 for name, tool in tools_module.default_tools().items()}
        # Run as root, a plugin that speaks netlink itself (CNI's Go plugins, pyroute2) would
        # build its bridge in the machine's own namespace: every plugin process starts in an
        # empty network namespace of its own (and with /proc/sys read-only), where it can
        # reach only the shims' unix socket. Without that isolation, refuse to run as root.
        self._isolation: list[str] = run.guarded([])
        if os.geteuid() == 0 and not self._isolation:
            shutil.rmtree(self._private, ignore_errors=True)
            raise CtrnetError("cannot isolate the plugin from this machine's network "
                              "(unshare --net failed): grade on the simulator as a normal "
                              "user, or use --backend kernel")
        self._server = server.Server(backend, str(self._private / "sock"), str(bindir), tools)
        self._server.start()
        self._env = {
            "PATH": f"{bindir}:{_SYSTEM_PATH}",
            client.SOCKET_ENV: self._server.socket_path,
            client.NS_ENV: "",  # the plugin runs in the host namespace
            run.MARKER_ENV: "1",
        }

    def _recording(self, name: str, tool: Any) -> Any:
        def run(server: Any, inv: Any) -> int:
            with self._runs_lock:
                self._runs.append(ToolRun(name, tuple(inv.argv)))
            status: int = tool(server, inv)
            return status

        return run

    def argv(self, plugin: str) -> list[str]:
        return [*self._isolation, plugin]

    def env(self) -> dict[str, str]:
        return dict(self._env)

    def netns_path(self, ns: str) -> str:
        return f"/var/run/netns/{ns}"

    def tool_runs(self) -> list[ToolRun]:
        with self._runs_lock:
            return list(self._runs)

    def close(self) -> None:
        self._server.close()
        shutil.rmtree(self._private, ignore_errors=True)

    def __del__(self) -> None:  # a launcher nobody closed must not leave its socket behind
        if os.path.isdir(getattr(self, "_private", "")):
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
