"""The kernel as a live oracle: one command run on the simulator and on the real kernel, every
tool invocation recorded on both sides, and the two transcripts compared line by line.

A recording wrapper for each network tool goes first on PATH (before the simulator's shims
on one side, before the real tools on the other). It notes the invocation's arguments, runs
the next tool of that name on PATH with the caller's stdin, keeps its stdout, stderr and exit
status, then passes them on — so nested invocations (`ip netns exec NS ip link`) are recorded
too. The kernel side runs in a sandbox of its own (`registry.kernel_sandbox_command`): a
user namespace (as root too: the command's privileges end there), a fresh network namespace
and a mount namespace with a private /run (so `ip netns` state is its own). Nothing of it
reaches the machine's own namespaces. The simulator's side is served from this process
(`registry.simulated_command_line`).

What is normalized before comparing (and only that) is listed in docs/fidelity.md; it is
`ctrnet.compare.normalize`: MACs the command did not set, ping timings, automatic qdisc
handles, iptables-save dates, and the order of hash-ordered listings.
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ctrnet import registry
from ctrnet.compare.normalize import NO_IPV6, normalize

#: Real seconds one side may take.
TIMEOUT = 120.0
#: Environment variable naming the directory invocations are recorded in.
RECORD_ENV = "CTRNET_RECORD_DIR"
#: Marks the simulator's refusals ("ctrnet sim: TOOL: … is not supported").
REFUSAL = "ctrnet sim:"

_WRAPPER = r"""#!/bin/bash -p
# Recording wrapper of `ctrnet sim compare` for {tool}: note the invocation, run the next
# {tool} on PATH (argv[0] as typed: tools print it), keep its stdout, stderr and exit status,
# and pass them on. bash -p: $BASH_ENV (the simulator's guard) is not read by the wrapper.
me={directory}
real=
saved_ifs=$IFS
IFS=:
for dir in $PATH; do
    [ "$dir" = "$me" ] && continue
    if [ -f "$dir/{tool}" ] && [ -x "$dir/{tool}" ]; then real="$dir/{tool}"; break; fi
done
IFS=$saved_ifs
if [ -z "$real" ]; then echo "{tool}: command not found" >&2; exit 127; fi
if [ -z "${{{record}-}}" ]; then exec -a {tool} "$real" "$@"; fi
rec="${{{record}}}/$(date +%s%N)-$$"
mkdir "$rec"
printf '%s\n' {tool} > "$rec/argv"
for arg in "$@"; do printf '%s\n' "$arg"; done >> "$rec/argv"
exec 3<&0
(exec -a {tool} "$real" "$@") <&3 3<&- >"$rec/out" 2>"$rec/err" &
child=$!
trap 'kill -s TERM $child 2>/dev/null' TERM
trap 'kill -s INT $child 2>/dev/null' INT
trap 'kill -s HUP $child 2>/dev/null' HUP
while :; do
    wait $child
    status=$?
    kill -0 $child 2>/dev/null || break
done
{after}echo $status > "$rec/status"
cat "$rec/out"
cat "$rec/err" >&2
exit $status
"""

#: On the kernel side, `ip netns add NAME` also turns IPv6 off in the new namespace, as
#: ctrnet's namespaces have it (see NO_IPV6), without that being recorded.
_IP_AFTER = f"""if [ $status = 0 ] && [ "$1" = netns ] && [ "$2" = add ] && [ $# = 3 ]; then
    PATH=${{PATH#$me:}} "$real" netns exec "$3" sysctl -qw {NO_IPV6}
fi
"""

#: The kernel side's sandbox: a tmpfs on /run (ip netns' /run/netns, the xtables lock),
#: IPv6 off, then the command.
_SANDBOX = (f"sysctl -qw {NO_IPV6} && "
            'PATH="$1:$PATH" && shift && exec "$@"')


@dataclass(frozen=True)
class Invocation:
    """One recorded tool invocation: argv (tool first), stdout, stderr, exit status."""

    argv: tuple[str, ...]
    stdout: str
    stderr: str
    status: int | None  # None: still running when the command ended (killed with it)


@dataclass(frozen=True)
class Run:
    """What one side printed: the command's own output and status, and every invocation."""

    side: str
    stdout: str
    stderr: str
    status: int
    invocations: tuple[Invocation, ...]

    def transcript(self) -> str:
        """Every invocation in start order, then the command itself; `$ ` lines head each."""
        lines = []
        for call in self.invocations:
            lines.append("$ " + shlex.join(call.argv))
            lines.extend(call.stdout.splitlines())
            lines.extend("stderr: " + line for line in call.stderr.splitlines())
            lines.append(f"[exit {'running' if call.status is None else call.status}]")
        lines.append("$ (the command itself)")
        lines.extend(self.stdout.splitlines())
        lines.extend("stderr: " + line for line in self.stderr.splitlines())
        lines.append(f"[exit {self.status}]")
        return "\n".join(lines) + "\n"

    def refusals(self) -> list[str]:
        return [line for call in self.invocations for line in call.stderr.splitlines()
                if line.startswith(REFUSAL)]


def install_wrappers(directory: Path, tools: Sequence[str], *, kernel: bool) -> None:
    for tool in tools:
        if "/" in tool or not tool:
            continue
        after = _IP_AFTER if kernel and tool == "ip" else ""
        path = directory / tool
        path.write_text(_WRAPPER.format(tool=tool, directory=shlex.quote(str(directory)),
                                        record=RECORD_ENV, after=after), encoding="utf-8")
        path.chmod(0o755)


def _collect(record_dir: Path) -> tuple[Invocation, ...]:
    def order(path: Path) -> tuple[int, int]:
        stamp, _, pid = path.name.partition("-")
        return (int(stamp), int(pid)) if stamp.isdigit() and pid.isdigit() else (0, 0)

    calls = []
    for rec in sorted((p for p in record_dir.iterdir() if p.is_dir()), key=order):
        def text(name: str, rec: Path = rec) -> str:
            try:
                return (rec / name).read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                return ""

        status = text("status").strip()
        calls.append(Invocation(argv=tuple(text("argv").splitlines()), stdout=text("out"),
                                stderr=text("err"),
                                status=int(status) if status.lstrip("-").isdigit() else None))
    return tuple(calls)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CTRNET_SIM") and k != RECORD_ENV}
    env["LC_ALL"] = "C"
    return env


def run_side(side: str, argv: Sequence[str], *, timeout: float = TIMEOUT,
             state_dir: str | None = None, stdin: str | None = None) -> Run:
    """Run `argv` on one side ("sim" or "kernel") with every tool invocation recorded."""
    with tempfile.TemporaryDirectory(prefix=f"ctrnet-compare-{side}-") as tmp:
        work = Path(tmp)
        wrappers, records, cwd = work / "bin", work / "rec", work / "cwd"
        for directory in (wrappers, records, cwd):
            directory.mkdir()
        env = _environment()
        env[RECORD_ENV] = str(records)
        tools = registry.sim_tool_names()
        if side == "sim":
            install_wrappers(wrappers, tools, kernel=False)
            return _run_sim(argv, env, wrappers, records, timeout=timeout,
                            state_dir=state_dir, stdin=stdin)
        if side == "kernel":
            install_wrappers(wrappers, [t for t in tools if shutil.which(t)], kernel=True)
            # A sandbox of its own even as root: a user namespace (so the command's root
            # ends there: no host sysctl, module or mount), a network namespace, and a
            # mount namespace whose /run (ip netns, xtables lock), /etc/netns and /sys are
            # private. Its leftovers are ended with it.
            command = registry.kernel_sandbox_command(
                ["sh", "-c", _SANDBOX, "ctrnet-compare", str(wrappers), *argv])
        else:
            raise ValueError(f"unknown side {side!r}")
        stdout, stderr, status = _run(command, env, timeout=timeout, stdin=stdin,
                                      cwd=os.getcwd())
        return Run(side, stdout, stderr, status, _collect(records))


def _run(command: list[str], env: dict[str, str], *, timeout: float, stdin: str | None,
         cwd: str | None = None) -> tuple[str, str, int]:
    """(stdout, stderr, exit status as a shell gives it: 128+N if killed by N; 124 after
    `timeout`) of one side's command."""
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              errors="replace", timeout=timeout, input=stdin)
    except subprocess.TimeoutExpired as expired:
        return (_text(expired.stdout), _text(expired.stderr)
                + f"ctrnet sim compare: timed out after {timeout:g}s\n", 124)
    status = done.returncode
    return done.stdout, done.stderr, 128 - status if status < 0 else status


def _run_sim(argv: Sequence[str], env: dict[str, str], wrappers: Path, records: Path, *,
             timeout: float, state_dir: str | None, stdin: str | None) -> Run:
    """The simulator's side, served from this process (as `ctrnet sim exec` does, without
    the start-up of a second Python): the wrappers go before the shims on PATH."""
    with registry.simulated_command_line(state_dir) as served:
        run_env = {**served.env, **{k: env[k] for k in ("LC_ALL", RECORD_ENV)}}
        run_env["PATH"] = f"{wrappers}{os.pathsep}{served.env['PATH']}"
        try:
            stdout, stderr, status = _run(served.guard(list(argv)), run_env, timeout=timeout,
                                          stdin=stdin)
        except OSError as err:
            stdout, stderr, status = "", f"ctrnet sim: {argv[0]}: {err.strerror}\n", 127
    return Run("sim", stdout, stderr, status, _collect(records))


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def kernel_unavailable() -> str | None:
    """Why the kernel side cannot run in this process (it needs root, real or in a user
    namespace of its own), or None."""
    mode, why = registry.kernel_mode()
    return why if mode == "unavailable" else None


def _set_by_command(argv: Sequence[str], runs: Sequence[Run]) -> str:
    """Text whose MACs the command itself chose: its arguments, the files they name, and the
    arguments of every recorded invocation."""
    parts = list(argv)
    for arg in argv:
        try:
            if os.path.isfile(arg) and os.path.getsize(arg) < 1 << 20:
                parts.append(Path(arg).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
    for run in runs:
        for call in run.invocations:
            parts.extend(call.argv)
    return "\n".join(parts)


@dataclass(frozen=True)
class Comparison:
    sim: Run
    kernel: Run
    sim_lines: list[str]
    kernel_lines: list[str]

    @property
    def identical(self) -> bool:
        return self.sim_lines == self.kernel_lines

    def diff(self) -> list[str]:
        return list(difflib.unified_diff(self.sim_lines, self.kernel_lines, "simulator",
                                         "kernel", lineterm="", n=2))


def compare(argv: Sequence[str], *, timeout: float = TIMEOUT, state_dir: str | None = None,
            stdin: str | None = None) -> Comparison:
    """Run `argv` on both sides and normalize both transcripts."""
    sim = run_side("sim", argv, timeout=timeout, state_dir=state_dir, stdin=stdin)
    kernel = run_side("kernel", argv, timeout=timeout, stdin=stdin)
    chosen = _set_by_command(argv, (sim, kernel))
    return Comparison(sim, kernel, normalize(sim.transcript(), chosen),
                      normalize(kernel.transcript(), chosen))


def main(argv: Sequence[str], *, state_dir: str | None = None, timeout: float = TIMEOUT) -> int:
    """`ctrnet sim compare`: 0 when identical, 1 when they differ, 2 when it cannot run."""
    command = list(argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("ctrnet sim compare: no command given (ctrnet sim compare -- CMD [ARGS...])",
              file=sys.stderr)
        return 2
    reason = kernel_unavailable()
    if reason:
        print(f"ctrnet sim compare: {reason}", file=sys.stderr)
        return 2
    result = compare(command, timeout=timeout, state_dir=state_dir)
    refused = result.sim.refusals()
    if result.identical:
        count = len(result.sim.invocations)
        print(f"identical ({count} tool invocation{'s' if count != 1 else ''} compared)")
        return 0
    for line in result.diff():
        print(line)
    if refused:
        print(f"the simulator refused {len(refused)} invocation(s): {refused[0]}")
    return 1
