"""A testinfra connection that runs commands inside a network namespace: `netns://NAME`.

testinfra's modules (interface, sysctl, iptables, ...) then inspect a sandbox namespace with
the host's own tools, independently of the backend's netlink code: a second opinion on what
the kernel backend reports. Registered in testinfra's backend table on import.
"""

from __future__ import annotations

from typing import Any

import testinfra
import testinfra.backend
from testinfra.backend import base


class NetnsBackend(base.BaseBackend):
    """`ip netns exec NAME sh -c CMD` for every command (root needed, like the kernel suite)."""

    NAME = "netns"

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.netns = name
        super().__init__(name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        out = self.run_local("ip netns exec %s /bin/sh -c %s", self.netns, cmd)
        out.command = self.encode(cmd)
        return out


testinfra.backend.BACKENDS.setdefault(NetnsBackend.NAME, f"{__name__}.NetnsBackend")


def netns_host(real_name: str) -> testinfra.host.Host:
    """A testinfra Host whose commands run in the namespace /run/netns/`real_name`."""
    return testinfra.get_host(f"netns://{real_name}")
