"""ICMP echo probes with iputils `ping`, run inside a namespace, and what this host can do.

Unlike netlink requests, a ping needs a process: it waits on the wire. It runs through
`ip netns exec` (the namespace's own /etc/netns and /sys), with the C locale so its summary
line parses the same everywhere.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import re
import shutil
import subprocess

from ctrnet.errors import from_errno
from ctrnet.types import PingResult

_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_TTL = re.compile(r"\bttl=(\d+)")
#: What ping(8) prints when sendto/connect fail with ENETUNREACH: no route at all.
_NO_ROUTE = "Network is unreachable"


def ping(real_ns: str, ns: str, dst: str, *, count: int, timeout: float,
         interval: float, size: int = 56) -> PingResult:
    argv = [
        "ip", "netns", "exec", real_ns,
        "ping", "-n", "-c", str(count), "-W", f"{timeout:g}", "-i", f"{interval:g}",
        "-s", str(size), dst,
    ]
    # ping's own deadline is count*interval + timeout; the margin covers process start-up.
    limit = count * interval + timeout + 10.0
    done = subprocess.run(argv, capture_output=True, text=True, timeout=limit,
                          env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    summary = _SUMMARY.search(done.stdout)
    if summary is None:
        message = (done.stderr or done.stdout).strip().splitlines()
        detail = message[-1] if message else f"exit status {done.returncode}"
        if _NO_ROUTE in detail:
            raise from_errno(errno.ENETUNREACH, f"ping {dst} from namespace {ns}: {detail}")
        raise from_errno(errno.EINVAL, f"ping {dst} from namespace {ns}: {detail}")
    ttls = tuple(int(ttl) for ttl in _TTL.findall(done.stdout))
    return PingResult(dst=dst, sent=int(summary.group(1)), received=int(summary.group(2)),
                      ttls=ttls)


def host_capabilities() -> frozenset[str]:
    """Capabilities that depend on tools installed on this host."""
    tools = ("iptables", "ebtables", "tc", "ping", "conntrack")
    found = {tool for tool in tools if shutil.which(tool)}
    found.add("capture")  # an AF_PACKET socket made in the namespace: nothing to install
    if shutil.which("xtables-monitor") and shutil.which("stdbuf"):
        found.add("trace")  # iptables-nft's TRACE, read with xtables-monitor --trace
    if _kernel_version() >= (6, 2):
        # Linux 6.2 (bd039b5ea2a9) lets a link be renamed while up; before, EBUSY.
        found.add("live-rename")
    if importlib.util.find_spec("testinfra") is not None:
        found.add("testinfra")  # only the kernel can be inspected with host tools
    return frozenset(found)


def _kernel_version() -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)
