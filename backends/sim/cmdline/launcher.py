"""Running a CNI plugin on the simulator: under the simulated command line (the grader's
launcher for worlds with capability "simulated-command-line"; `ctrnet.registry.sim_launcher`
makes one, `ctrnet.grade.launcher` says what a launcher is).

The grading world (a SimBackend) is served to the plugin's processes by the simulated
command line's server, in this process; its shims (`ip`, `iptables`, `sysctl`, `nsenter`…)
go first on the plugin's PATH. Every tool the plugin runs is recorded on the way in, for the
netlink item. A plugin that speaks netlink itself cannot run here (there is no simulated
kernel socket): the grader says so and points to `--backend kernel`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ctrnet.backend import Backend
from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.cmdline import client, run, server, toolset
from ctrnet.errors import CtrnetError
from ctrnet.grade.launcher import SYSTEM_PATH, ToolRun
from ctrnet.grade.sandbox import Finished, Limits, Sandbox, python_for_others


class SimLauncher:
    """Serves `backend`'s world to plugin processes; `close` stops the server."""

    def __init__(self, backend: Backend, workdir: Path, limits: Limits | None = None) -> None:
        if not isinstance(backend, SimBackend):  # the command line serves simulated worlds only
            raise CtrnetError(f"backend {backend.name!r} cannot be served to the simulated "
                              "command line")
        self._backend = backend
        self._runs: list[ToolRun] = []
        self._runs_lock = threading.Lock()
        self._granted: set[str] = set()
        # A unix socket path must fit in 108 bytes: a short private directory, not workdir.
        self._private = Path(tempfile.mkdtemp(prefix="ctrnet-grade-sim-"))
        bindir = self._private / "bin"
        bindir.mkdir()
        run.install_shims(bindir)
        self.sandbox = Sandbox(workdir, limits=limits)
        if self.sandbox.contained:
            # The shims are self-contained scripts (python -IS): any Python 3 the sandbox's
            # id can run will do when this one lives under a private home.
            client_script = bindir / "ctrnet-sim-client"
            rest = client_script.read_text(encoding="utf-8").split("\n", 1)[1]
            python = python_for_others(sys.executable)
            client_script.write_text(f"#!{python} -IS\n{rest}", encoding="utf-8")
        tools = {name: self._recording(name, tool)
                 for name, tool in toolset.default_tools().items()}
        # A plugin that speaks netlink itself (CNI's Go plugins, pyroute2) would build its
        # bridge in whatever namespace it starts in: every plugin process runs in a sandbox
        # (`ctrnet.grade.sandbox`) with an empty network namespace of its own, where it can
        # reach only the shims' unix socket, as an unprivileged id. Without that, refuse to
        # run as root.
        if os.geteuid() == 0 and not self.sandbox.contained:
            shutil.rmtree(self._private, ignore_errors=True)
            raise CtrnetError("cannot isolate the plugin from this machine (no user namespace "
                              "could be made): grade on the simulator as a normal user, or "
                              "use --backend kernel")
        self._server = server.Server(backend, str(self._private / "sock"), str(bindir), tools)
        self._server.start()
        # The sandbox's id passes through the private directory (not listing it) to the
        # socket it owns; the shims stay the grader's.
        self._private.chmod(0o711)
        if self.sandbox.root and self.sandbox.contained:
            os.lchown(self._server.socket_path, self.sandbox.uid, self.sandbox.uid)
        self._env = {
            "PATH": f"{bindir}:{SYSTEM_PATH}",
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

    def run(self, plugin: str, *, stdin: str, env: dict[str, str], timeout: float,
            data_dir: str) -> Finished:
        if data_dir not in self._granted:
            self.sandbox.grant(data_dir)
            self._granted.add(data_dir)
        return self.sandbox.run(self.sandbox.reachable(plugin), stdin=stdin,
                                env={**env, **self._env}, timeout=timeout)

    def netns_path(self, ns: str) -> str:
        return self._backend.netns_path(ns)

    def tool_runs(self) -> list[ToolRun]:
        with self._runs_lock:
            return list(self._runs)

    def close(self) -> None:
        self._server.close()
        shutil.rmtree(self._private, ignore_errors=True)
        self.sandbox.close()

    def __del__(self) -> None:  # a launcher nobody closed must not leave its socket behind
        if os.path.isdir(getattr(self, "_private", "")):
            try:
                self.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
