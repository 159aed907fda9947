"""Running the netfilter command-line tools (iptables-restore, ebtables, conntrack) in a namespace.

These tools talk nf_tables/ctnetlink with formats of their own, so ctrnet runs them rather than
speaking their protocols. One process per request, entered into the namespace by `nsenter
--net` (no mount namespace or /sys remount as with `ip netns exec`: they need neither), in the
C locale so their messages parse the same everywhere.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import threading
from dataclasses import dataclass

from ctrnet.errors import BackendError, from_errno

from . import nsfs

_ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
#: strerror(3) text -> errno, for the "X failed (Device or resource busy)" the tools print.
_STRERROR = {os.strerror(code): code for code in errno.errorcode}
_FAILED_WITH = re.compile(r"failed \(([^)]+)\)")
_NO_SUCH = "No chain/target/match by that name"


@dataclass(frozen=True)
class Outcome:
    """What a tool run left: exit status and its two streams."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(real_ns: str, argv: list[str], *, stdin: str | None = None,
        timeout: float = 60.0) -> Outcome:
    """Run `argv` inside /run/netns/`real_ns`; a tool that is not installed is ENOENT."""
    command = ["nsenter", f"--net={nsfs.netns_path(real_ns)}", "--", *argv]
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_ENV)
    except FileNotFoundError as err:  # nsenter itself is missing
        raise from_errno(errno.ENOENT, f"{argv[0]}: nsenter not installed") from err
    # The timeout is a timer killing the tool, not communicate(timeout=…): with a timeout,
    # Popen.wait reaps by polling with sleeps from 1 ms up, and the tool is seldom reaped
    # at the first try once its pipes close, so every run would lose a millisecond or more
    # (a third of an ebtables-restore). Without one, wait() blocks in waitpid.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        stdout, stderr = proc.communicate(stdin)
    finally:
        timer.cancel()
        if proc.returncode is None:  # interrupted: leave no running tool or zombie behind
            proc.kill()
            proc.wait()
    if expired.is_set():
        raise subprocess.TimeoutExpired(command, timeout, stdout, stderr)
    if proc.returncode in (126, 127):  # nsenter: cannot execute / command not found
        raise from_errno(errno.ENOENT, f"{argv[0]} is not installed: {stderr.strip()}")
    return Outcome(proc.returncode, stdout, stderr)


def errno_of(message: str) -> int:
    """The errno a tool's complaint stands for: the kernel's own when the tool quotes it
    ("CHAIN_DEL failed (Device or resource busy)"), ENOENT for a missing chain, table or rule
    (libiptc's "Bad rule (does a matching rule exist in that chain?)" is its text for
    ENOENT on delete), otherwise EINVAL (a parameter problem: nothing reached the kernel)."""
    quoted = _FAILED_WITH.search(message)
    if quoted and quoted.group(1) in _STRERROR:
        return _STRERROR[quoted.group(1)]
    if (_NO_SUCH in message or "does a matching rule exist" in message
            or re.search(r"table '[^']*' does not exist", message)):
        return errno.ENOENT
    return errno.EINVAL


def failure(tool: str, ns: str, outcome: Outcome, detail: str | None = None) -> BackendError:
    """The typed error for a failed run; `detail` overrides the message drawn from stderr."""
    text = detail if detail is not None else summary(outcome.stderr or outcome.stdout)
    return from_errno(errno_of(text), f"{tool} in namespace {ns}: {text}")


def summary(stderr: str) -> str:
    """The tool's complaint without its banner ("iptables v1.8.9 (nf_tables): ") or the
    "Try `iptables -h'" hint."""
    lines = []
    for line in stderr.splitlines():
        line = re.sub(r"^\S+ v[\d.]+ \([^)]*\):\s*", "", line).strip()
        if line and not line.startswith("Try `"):
            lines.append(line)
    return "; ".join(lines) or "failed without a message"
