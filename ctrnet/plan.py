"""Transactions: an operation is a plan of named steps, each undone if a later one fails.

Like Docker libnetwork's bridge setup table (and `contextlib.ExitStack`), a step's undo is
registered the moment the step succeeds; when step k fails, steps k-1 … 1 are undone in
reverse, so a failed connect leaves no link, rule, address or allocation behind. A fault hook
lets tests fail any step by name; a trace hook lets them learn the names. Teardown plans
(`Cleanup`) go the other way: every step is tried, "already gone" counts as done, and the
first real failure is raised at the end so that a retry finishes the job.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import TypeVar

from ctrnet.errors import BackendError, CtrnetError, NotFound

__all__ = ["CRASH_ENV", "Cleanup", "FaultHook", "InjectedFault", "Plan", "TraceHook",
           "crash_hook_from_env", "fail_at", "gone_ok", "if_present"]

T = TypeVar("T")

#: Called as hook(operation, step) before each step runs; raising fails that step.
FaultHook = Callable[[str, str], None]
#: Called as hook(operation, step) when a step is about to run (progress, test discovery).
TraceHook = Callable[[str, str], None]


class InjectedFault(CtrnetError):
    """Raised by a fault hook to make a step fail on purpose (tests)."""


def fail_at(step: str, operation: str | None = None) -> FaultHook:
    """A fault hook failing `step` (of `operation`, or of any operation)."""

    def hook(op: str, name: str) -> None:
        if name == step and (operation is None or op == operation):
            raise InjectedFault(f"injected fault at step {op}:{name}",
                                ja=f"手順 {op}:{name} で故意に起こした失敗")

    return hook


#: "OPERATION:STEP": the process SIGKILLs itself when that step is about to run (crash tests:
#: a kill leaves what a power cut or the OOM killer would, with no unwinding at all).
CRASH_ENV = "CTRNET_CRASH_AT"


def crash_hook_from_env() -> FaultHook | None:
    """A fault hook that kills this process at the step $CTRNET_CRASH_AT names, or None."""
    target = os.environ.get(CRASH_ENV, "")
    operation, _, step = target.partition(":")
    if not step:
        return None

    def hook(op: str, name: str) -> None:
        if op == operation and name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


class Plan:
    """One transactional operation. Use as a context manager; run steps with `step`."""

    def __init__(
        self,
        operation: str,
        *,
        fault: FaultHook | None = None,
        trace: TraceHook | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.operation = operation
        self.fault = fault
        self.trace = trace
        self.executor = executor
        self.done: list[str] = []
        #: False once an undo failed: something of the plan may remain.
        self.clean = True
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._pending: list[tuple[str, Future[object], Callable[[object], object] | None]] = []

    def step(self, name: str, do: Callable[[], T], undo: Callable[[T], object] | None = None) -> T:
        """Run `do`; on success register `undo(result)` to run if a later step fails."""
        if self.trace is not None:
            self.trace(self.operation, name)
        if self.fault is not None:
            self.fault(self.operation, name)
        result = do()
        self.done.append(name)
        if undo is not None:
            self._undo.append((name, lambda: undo(result)))
        return result

    def spawn(self, name: str, do: Callable[[], object],
              undo: Callable[[object], object] | None = None) -> None:
        """Like `step`, but run `do` on the executor while later steps go on (a tool process
        that needs nothing they make). Without an executor it is a plain step. Its undo is
        registered when `join` (or leaving the plan) collects it."""
        if self.executor is None:
            self.step(name, do, undo)
            return
        if self.trace is not None:
            self.trace(self.operation, name)
        if self.fault is not None:
            self.fault(self.operation, name)
        self._pending.append((name, self.executor.submit(do), undo))

    def join(self) -> None:
        """Wait for the spawned steps; raise the first failure once all have ended."""
        pending, self._pending = self._pending, []
        failure: BaseException | None = None
        for name, future, undo in pending:
            try:
                result = future.result()
            except BaseException as err:  # noqa: BLE001 - re-raised below, after the others
                if failure is None:
                    failure = err
                else:
                    failure.add_note(f"ctrnet: step {name!r} failed too: {err}")
                continue
            self.done.append(name)
            if undo is not None:
                self._undo.append((name, _bind(undo, result)))
        if failure is not None:
            raise failure

    def __enter__(self) -> Plan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failure = exc
        if self._pending:
            try:
                self.join()  # their undos must be known before unwinding
            except BaseException as err:  # noqa: BLE001 - the first failure wins
                if failure is None:
                    failure = err
                else:
                    failure.add_note(f"ctrnet: a background step failed too: {err}")
        undo, self._undo = self._undo, []
        if failure is None:
            return
        # Undo even on KeyboardInterrupt: a half-made endpoint is worse than a slow Ctrl-C.
        for name, action in reversed(undo):
            try:
                action()
            except Exception as err:  # noqa: BLE001 - keep undoing; report it on the cause
                self.clean = False
                failure.add_note(f"ctrnet: undo of step {name!r} failed too: {err}")
        if exc is None:
            raise failure


def _bind(undo: Callable[[T], object], result: T) -> Callable[[], object]:
    return lambda: undo(result)


class Cleanup:
    """A teardown: every step is tried; NotFound (already gone) counts as success, so a second
    teardown, or one after the namespace vanished, succeeds and removes what remains. With an
    executor, `spawn`ed steps run beside the others until `join`."""

    def __init__(
        self,
        operation: str,
        *,
        fault: FaultHook | None = None,
        trace: TraceHook | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.operation = operation
        self.fault = fault
        self.trace = trace
        self.executor = executor
        self.errors: list[tuple[str, Exception]] = []
        self._pending: list[tuple[str, Future[object]]] = []

    def _run(self, name: str, do: Callable[[], object]) -> None:
        try:
            do()
        except NotFound:
            pass
        except Exception as err:  # noqa: BLE001 - go on cleaning; raised in finish()
            self.errors.append((name, err))

    def step(self, name: str, do: Callable[[], object]) -> None:
        if self.trace is not None:
            self.trace(self.operation, name)
        self._run(name, lambda: self._faulted(name, do))

    def spawn(self, name: str, do: Callable[[], object]) -> None:
        """Like `step`, on the executor (a plain step without one)."""
        if self.executor is None:
            self.step(name, do)
            return
        if self.trace is not None:
            self.trace(self.operation, name)
        self._pending.append((name, self.executor.submit(self._faulted, name, do)))

    def _faulted(self, name: str, do: Callable[[], object]) -> object:
        if self.fault is not None:
            self.fault(self.operation, name)
        return do()

    def join(self) -> None:
        pending, self._pending = self._pending, []
        for name, future in pending:
            self._run(name, future.result)

    def finish(self) -> None:
        """Wait for spawned steps; raise the first failure (others as notes), if any."""
        self.join()
        if not self.errors:
            return
        name, first = self.errors[0]
        first.add_note(f"ctrnet: {self.operation} step {name!r} failed; run it again to retry")
        for other_name, other in self.errors[1:]:
            first.add_note(f"ctrnet: step {other_name!r} failed too: {other}")
        raise first


def if_present(action: Callable[[], object]) -> None:
    """Run a removal that may find its object gone already: NotFound counts as done, and so
    does a complaint that a rule to delete is missing ("Bad rule (does a matching rule exist
    in that chain?)"; both backends report it as ENOENT now, the text check is a fallback)."""
    try:
        action()
    except NotFound:
        pass
    except BackendError as err:
        if "matching rule exist" not in str(err):
            raise


def gone_ok(action: Callable[[], object]) -> Callable[..., None]:
    """`action` as an undo (or teardown step) that ignores its arguments, via `if_present`."""
    return lambda *_: if_present(action)
