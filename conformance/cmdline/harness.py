"""Running one shell script two ways — under `ctrnet sim exec`, and on the kernel inside a
throw-away sandbox — and normalizing what it printed (`ctrnet.compare.normalize`, as
`ctrnet sim compare` does) so the two can be compared line by line.

The sandbox is `unshare --net --mount --pid`: a fresh network namespace plays the host, and a
private tmpfs on /run keeps the namespaces `ip netns add` makes (/run/netns/NAME) out of the
real host's sight. When the script's last process exits, the mount namespace and with it
every network namespace of the run disappear: nothing is left behind, even after a crash.

    python -m ctrnet.conformance.cmdline.harness --capture [NAME...]  # as root: refresh data/*.out
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ctrnet.compare.normalize import NO_IPV6, normalize

DATA = Path(__file__).parent / "data"
#: Real seconds a script may take on either side.
TIMEOUT = 60


def scripts() -> list[Path]:
    return sorted(DATA.glob("*.sh"))


def annotate(script: str) -> str:
    """Echo each command before it runs and its exit status after it, so the comparison
    covers what every command printed, where, and how it ended (comments are dropped)."""
    out = []
    for line in script.splitlines():
        command = line.strip()
        if not command or command.startswith("#"):
            continue
        out.append(f"echo {_quote('$ ' + command)}")
        out.append(command)
        out.append('echo "[exit $?]"')
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def run_sim(script: str) -> str:
    """The script's combined output under `ctrnet sim exec` (no privileges needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    env["LC_ALL"] = "C"
    with tempfile.TemporaryDirectory(prefix="ctrnet-diff-") as cwd:
        proc = subprocess.run(
            [sys.executable, "-m", "ctrnet.cli", "sim", "exec", "--", "sh", "-c",
             annotate(script)], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
            env=env)
    return proc.stdout


#: `ip` itself replaces the wrapper (exec) unless it adds a namespace, so that a script's
#: `ip netns exec NS nc -l … & kill $!` kills the listener, not a shell around it.
_IP_WRAPPER = f"""#!/bin/sh
PATH=${{PATH#/run/ctrnet:}}
if [ "$1" = netns ] && [ "$2" = add ] && [ $# = 3 ]; then
    ip "$@" || exit
    exec ip netns exec "$3" sysctl -qw {NO_IPV6}
fi
exec ip "$@"
"""


def kernel_unavailable() -> str | None:
    """Why the kernel half cannot run here, or None."""
    if os.geteuid() != 0:
        return "the kernel half needs root (it builds namespaces in a sandbox)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    return None


def run_kernel(script: str) -> str:
    """The script's combined output on the kernel, in a sandbox of its own (root only)."""
    sandbox = ("mount -t tmpfs ctrnet-sandbox /run && mkdir -p /run/netns /run/ctrnet && "
               'printf "%s" "$2" > /run/ctrnet/ip && chmod +x /run/ctrnet/ip && '
               f"sysctl -qw {NO_IPV6} && PATH=/run/ctrnet:$PATH && "
               'exec sh -c "$1"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    env["LC_ALL"] = "C"
    with tempfile.TemporaryDirectory(prefix="ctrnet-diff-") as cwd:
        proc = subprocess.run(
            # A pid namespace too: when the script's shell (its init) ends, the kernel ends
            # whatever the script left running in the background.
            ["unshare", "--net", "--mount", "--propagation", "private", "--pid", "--fork",
             "--mount-proc", "--kill-child", "--", "sh", "-c", sandbox, "sandbox",
             annotate(script),
             _IP_WRAPPER], cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
            env=env)
    return proc.stdout


def expected(path: Path) -> list[str]:
    """The kernel's normalized output for the script, as captured in data/NAME.out."""
    return path.with_suffix(".out").read_text(encoding="utf-8").splitlines()


def capture(names: list[str]) -> int:
    """Run the scripts (all, or those named) on the kernel and keep their normalized output."""
    reason = kernel_unavailable()
    if reason:
        print(f"cannot capture: {reason}", file=sys.stderr)
        return 1
    chosen = [path for path in scripts() if not names or path.stem in names]
    unknown = set(names) - {path.stem for path in chosen}
    if unknown:
        print(f"no such script: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for path in chosen:
        script = path.read_text(encoding="utf-8")
        lines = normalize(run_kernel(script), script)
        path.with_suffix(".out").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"captured {path.with_suffix('.out').name}: {len(lines)} lines")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--capture"]:
        sys.exit(capture(sys.argv[2:]))
    print(__doc__)
