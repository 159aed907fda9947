"""The backends by name: the one place the core reaches into `ctrnet.backends`.

Each entry imports its backend by name, lazily, inside the function that needs it: the kernel
backend needs pyroute2, an optional dependency (`pip install 'ctrnet[kernel]'`), so the
simulator, the suite on it and grading on it run without pyroute2 installed; and a command
that uses one backend never loads the other. These function-level imports and the command
line's (`ctrnet.cli_lazy`: grading and pytest) are the core's only ones
(tests/test_structure.py holds the list). What differs between backends at run
time is read from `Backend.capabilities`; what must be known before a world is opened (does
it need root?) is here, with the entry.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctrnet.backend import (
    IN_PROCESS,
    LAUNCH_IN_NAMESPACE,
    ORACLE,
    SIMULATED_COMMAND_LINE,
    THREAD_SAFE,
    Backend,
)
from ctrnet.errors import CtrnetError, InvalidConfig

if TYPE_CHECKING:
    from ctrnet.grade.launcher import RecordingLauncher

#: What to tell a user whose ctrnet was installed without the kernel extra.
KERNEL_EXTRA_HINT = "pip install 'ctrnet[kernel]'"


class MissingDependency(CtrnetError):
    """A backend needs a package that is not installed."""


def _open_sim(**options: Any) -> Backend:
    from ctrnet.backends.sim import open_world

    return open_world(**options)


def _open_kernel(**options: Any) -> Backend:
    try:
        from ctrnet.backends.kernel.backend import KernelBackend
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "pyroute2":
            raise
        raise MissingDependency(_missing_message("kernel", "pyroute2"),
                                ja="kernel バックエンドには pyroute2 が必要ですが、インストール"
                                   f"されていません: {KERNEL_EXTRA_HINT}") from exc
    return KernelBackend(**options)


def _missing_message(name: str, package: str) -> str:
    return f"the {name} backend needs {package}, which is not installed: {KERNEL_EXTRA_HINT}"


# -- the kernel backend without root (`ctrnet.backends.kernel.userns`) --------------------------
def kernel_mode() -> tuple[str, str]:
    """How the kernel backend can run in this process: ("root" | "rootless" | "unavailable",
    why), e.g. ("unavailable", "this host forbids unprivileged user namespaces (…): sudo…")."""
    from ctrnet.backends.kernel.userns import mode

    current = mode()
    return current.mode, current.reason


def enter_kernel_sandbox() -> None:
    """A user without root who may make user namespaces: re-run this very process (its
    command line) inside a rootless sandbox of its own, where it is root; does not return.
    As root, or where user namespaces are refused, return (the caller says why, from
    `kernel_mode`). Call before any thread starts."""
    from ctrnet.backends.kernel import userns

    if userns.mode().mode == "rootless" and not userns.inside():
        userns.reexec()


def join_kernel_keeper(state_dir: str) -> None:
    """Without root: move this process into the rootless sandbox that keeps the persistent
    kernel world of `state_dir` (started when there is none), so that what the kernel CLI
    makes outlives the command. As root, nothing. PermissionError with the one-line reason
    where user namespaces are refused. Call before any thread starts."""
    from ctrnet.backends.kernel.userns import join_keeper

    join_keeper(state_dir)


@dataclass(frozen=True)
class RootlessSandbox:
    """How a process without root still opens a backend that needs root: as root of a user
    namespace of its own, where the host allows unprivileged ones."""

    #: ("root" | "rootless" | "unavailable", why) for this process.
    mode: Callable[[], tuple[str, str]]
    #: For commands on throw-away worlds: re-run this very process inside a sandbox of its
    #: own (does not return); as root, or where user namespaces are refused, return.
    enter: Callable[[], None]
    #: For commands on a kept world: join the sandbox that keeps the world of a state
    #: directory (started when there is none), so that what they make outlives them.
    join_keeper: Callable[[str], None]


KERNEL_SANDBOX = RootlessSandbox(kernel_mode, enter_kernel_sandbox, join_kernel_keeper)


@dataclass(frozen=True)
class BackendEntry:
    """A backend as the CLI and the suite know it before opening one."""

    name: str
    open: Callable[..., Backend]
    #: Its worlds are the machine's own namespaces: only root can make them.
    needs_root: bool
    #: Third-party packages it imports (an extra of the distribution: `ctrnet[kernel]`).
    requires: tuple[str, ...] = ()
    #: Capabilities every world of this backend has, for decisions made before one is open
    #: (each world declares them too: `Backend.capabilities`).
    capabilities: frozenset[str] = frozenset()
    #: Without root, how a process becomes root of a sandbox of its own to open this
    #: backend's worlds (None: it needs no root, or has no such way).
    rootless: RootlessSandbox | None = None

    def unavailable(self) -> str | None:
        """Why this process cannot open the backend (a missing package, no root), or None."""
        for package in self.requires:
            if importlib.util.find_spec(package) is None:
                return _missing_message(self.name, package)
        if self.needs_root and os.geteuid() != 0:
            return f"the {self.name} backend needs root"
        return None


#: Backend name -> its entry; the first is the default.
REGISTRY: dict[str, BackendEntry] = {
    "sim": BackendEntry("sim", _open_sim, needs_root=False,
                        capabilities=frozenset({SIMULATED_COMMAND_LINE, IN_PROCESS})),
    "kernel": BackendEntry("kernel", _open_kernel, needs_root=True, requires=("pyroute2",),
                           capabilities=frozenset({LAUNCH_IN_NAMESPACE, THREAD_SAFE, ORACLE}),
                           rootless=KERNEL_SANDBOX),
}


def entry(name: str) -> BackendEntry:
    """The registry entry for `name`; InvalidConfig naming the choices when there is none."""
    try:
        return REGISTRY[name]
    except KeyError:
        choices = ", ".join(REGISTRY)
        raise InvalidConfig(f"unknown backend {name!r}; choose one of {choices}",
                            ja=f"未知のバックエンド {name!r} です。{choices} から選んでください"
                            ) from None


def open_backend(name: str, **options: Any) -> Backend:
    """A world on the backend called `name` ("sim" or "kernel"): a fresh throw-away one, or,
    with `state_dir=DIR`, the one kept there between processes (the simulator saves its world
    in DIR when closed; the kernel's namespaces outlive the process)."""
    return entry(name).open(**options)


# -- the simulated command line (`ctrnet sim exec|shell`, grading on the simulator) ------------
def sim_launcher(backend: Backend, workdir: Path) -> RecordingLauncher:
    """The grader's launcher for a simulated world: CNI plugins run under the simulated
    command line, which serves `backend` to them (capability "simulated-command-line")."""
    from ctrnet.backends.sim.cmdline.launcher import SimLauncher

    return SimLauncher(backend, workdir)


# -- the simulated command line (`ctrnet sim exec|shell`) ---------------------------------------
#: How `ctrnet` typed inside a simulator run acts on the run's world (the CLI's, passed in:
#: the simulator cannot import the CLI, which imports this registry): (argv, the world, the
#: directory of its records, the caller's locale variables, stdout, stderr) -> exit status,
#: or None when argv is not a command on that world (then the real ctrnet runs).
InWorldCommand = Callable[[list[str], Backend, str, dict[str, str], Any, Any], "int | None"]


def run_sim_command(argv: Sequence[str], state_dir: str | None = None, *,
                    in_world: InWorldCommand | None = None) -> int:
    """Run `argv` with the simulator's shims (ip, iptables, ping…) first on its PATH."""
    from ctrnet.backends.sim.cmdline import run_command

    return run_command(list(argv), state_dir, in_world=in_world)


def run_sim_shell(state_dir: str | None = None, *,
                  in_world: InWorldCommand | None = None) -> int:
    """An interactive shell in a simulated world."""
    from ctrnet.backends.sim.cmdline import run_shell

    return run_shell(state_dir, in_world=in_world)


# -- what `ctrnet sim compare` runs on each side (`ctrnet.compare.oracle`) ----------------------
def sim_tool_names() -> tuple[str, ...]:
    """Every tool name the simulated command line answers to (simulated or refused)."""
    from ctrnet.backends.sim.cmdline.run import SHIMS

    return tuple(SHIMS)


@dataclass(frozen=True)
class SimulatedCommandLine:
    """A simulated world served to processes: the environment that puts its shims first on
    PATH, and `guard`, which wraps a command line as `ctrnet sim exec` starts it (as root: no
    writes to the host's /proc/sys or /etc; the world's /etc/netns)."""

    env: dict[str, str]
    guard: Callable[[list[str]], list[str]]


@contextmanager
def simulated_command_line(state_dir: str | None = None) -> Iterator[SimulatedCommandLine]:
    """A fresh simulated world (or the one kept in `state_dir`, saved back at the end) served
    to the commands run with its environment, as `ctrnet sim exec` serves one; what they
    leave running is ended, and said on stderr, when the block ends."""
    from ctrnet.backends.sim.cmdline.run import end_leftovers, in_run, simulator

    with simulator(state_dir) as (server, env):
        yield SimulatedCommandLine(env, functools.partial(in_run, server))
        end_leftovers(server)


def kernel_sandbox_command(argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` on the kernel in a sandbox of its own, even as
    root: a user namespace (the command's privileges end there), a fresh network namespace
    and a mount namespace with a private /run, ended with whatever it leaves running."""
    from ctrnet.backends.kernel import userns

    return [sys.executable, "-m", userns.__name__, "--fresh", "--", *argv]
