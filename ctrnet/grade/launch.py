"""Where a CNI plugin runs during grading, and which command-line tools it ran.

On the kernel the plugin runs in the world's sandbox host namespace (`nsenter --net`), with a
directory of recording wrappers first on its PATH: each wrapper notes its tool and arguments
in a log and execs the real tool, so the grader knows whether links, addresses and routes were
set with `ip` / `bridge` / `tc` or through netlink. On the simulator the plugin runs under the
simulated command line, whose shims act on the world and keep the same kind of log.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import struct
from pathlib import Path

from ctrnet.backend import LAUNCH_IN_NAMESPACE, SIMULATED_COMMAND_LINE, Backend
from ctrnet.errors import InvalidConfig
from ctrnet.grade.launcher import (
    NETLINK_TOOLS,
    RECORDED_TOOLS,
    SYSTEM_PATH,
    Launcher,
    RecordingLauncher,
    ToolRun,
    read_log,
)
from ctrnet.grade.sandbox import Finished, Limits, Sandbox
from ctrnet.registry import sim_launcher

__all__ = ["NETLINK_TOOLS", "RECORDED_TOOLS", "KernelLauncher", "Launcher", "RecordingLauncher",
           "ToolRun", "launcher_for", "read_log"]

_NS_GET_USERNS = 0xB701
_NS_GET_OWNER_UID = 0xB704


def namespace_owner(netns_path: str) -> tuple[int, int] | None:
    """The user namespace owning the network namespace at `netns_path`, as (an open fd, the
    id outside that owns that user namespace), when it is not this process's own; else None
    (a namespace the machine's root made: no user namespace can configure it)."""
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        owner = fcntl.ioctl(fd, _NS_GET_USERNS)
    except OSError:
        return None
    finally:
        os.close(fd)
    if os.fstat(owner).st_ino == os.stat("/proc/self/ns/user").st_ino:
        os.close(owner)
        return None
    try:
        raw = fcntl.ioctl(owner, _NS_GET_OWNER_UID, b"\0" * 4)
    except OSError:
        os.close(owner)
        return None
    return owner, int(struct.unpack("I", raw)[0])


class KernelLauncher:
    """Runs plugins in a KernelBackend's host namespace with recording wrappers on PATH and,
    for `ip`, `bridge` and `tc`, over the real binaries (see `argv`)."""

    def __init__(self, backend: Backend, workdir: Path, limits: Limits | None = None) -> None:
        if LAUNCH_IN_NAMESPACE not in backend.capabilities:
            raise InvalidConfig(f"backend {backend.name!r} has no real namespaces to run in",
                                ja=f"バックエンド {backend.name!r} には実行に使える本物の"
                                   "名前空間がありません")
        self._backend = backend
        self.log = workdir / "tools.log"
        self.bindir = workdir / "bin"
        self.bindir.mkdir(parents=True, exist_ok=True)
        realdir = workdir / "real"
        realdir.mkdir(exist_ok=True)
        #: (the real binary, where the plugin's mount namespace shows it) per netlink tool
        self._hidden: list[tuple[str, Path]] = []
        for tool in RECORDED_TOOLS:
            found = shutil.which(tool, path=SYSTEM_PATH)
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

        self.log.touch()
        # In the plugin's own mount namespace the real `ip`, `bridge` and `tc` binaries are
        # covered by their recording wrappers, so a plugin running /sbin/ip by its full path
        # is recorded too. The mounts vanish with the plugin's processes and never reach the
        # machine's mount namespace (private propagation).
        steps = []
        for real, private in self._hidden:
            wrapper = self.bindir / private.name
            steps.append(f"mount --bind {shlex.quote(real)} {shlex.quote(str(private))}")
            steps.append(f"mount --bind {shlex.quote(str(wrapper))} {shlex.quote(real)}")
        host = backend.netns_path(backend.host_ns)
        #: The user namespace owning the world (when one does), kept open for the sandbox.
        self._owner = namespace_owner(host)
        userns = None
        if self._owner is not None:
            userns = f"/proc/self/fd/{self._owner[0]}"
        self.sandbox = Sandbox(workdir, limits=limits, enter_net=host, own_userns=userns,
                               own_uid=self._owner[1] if self._owner else None,
                               setup=" && ".join(steps), pass_fds=(self._owner[0],)
                               if self._owner else ())
        self._granted: set[str] = set()
        if self.sandbox.contained:
            self.sandbox.grant_file(self.log)
            self.sandbox.expose(self.bindir)
            self.sandbox.expose(realdir)

    def run(self, plugin: str, *, stdin: str, env: dict[str, str], timeout: float,
            data_dir: str) -> Finished:
        if data_dir not in self._granted:
            self.sandbox.grant(data_dir)
            self._granted.add(data_dir)
        return self.sandbox.run(self.sandbox.reachable(plugin), stdin=stdin,
                                env={**env, "PATH": f"{self.bindir}:{SYSTEM_PATH}"},
                                timeout=timeout)

    def netns_path(self, ns: str) -> str:
        return self._backend.netns_path(ns)

    def tool_runs(self) -> list[ToolRun]:
        return read_log(self.log)

    def close(self) -> None:
        """The wrappers and their log live in the workdir, removed with it."""
        self.sandbox.close()
        if self._owner is not None:
            os.close(self._owner[0])
            self._owner = None


def launcher_for(backend: Backend, workdir: Path) -> RecordingLauncher:
    """The launcher that runs plugins in `backend`'s world."""
    if LAUNCH_IN_NAMESPACE in backend.capabilities:
        return KernelLauncher(backend, workdir)
    if SIMULATED_COMMAND_LINE in backend.capabilities:
        return sim_launcher(backend, workdir)
    raise InvalidConfig(f"CNI plugins cannot run on backend {backend.name!r}",
                        ja=f"バックエンド {backend.name!r} では CNI プラグインを実行できません")
