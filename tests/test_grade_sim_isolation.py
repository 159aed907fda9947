"""A plugin graded on the simulator must not reach the machine's own network, even as root:
one that speaks netlink itself (CNI's Go plugins) or runs /sbin/ip by its full path would
otherwise build its bridge in the root namespace, outside every world ctrnet made."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ctrnet.grade.launch import launcher_for
from ctrnet.registry import open_backend

LEAK = "ctrnetleak0"


def _root_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could touch the root namespace")
@pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is not installed")
def test_plugin_on_the_simulator_runs_outside_the_root_namespace(tmp_path: Path) -> None:
    ip = shutil.which("ip")
    plugin = tmp_path / "leaky-plugin"
    # Bypasses the shims with the real binary's full path, as a netlink plugin would.
    plugin.write_text(f"#!/bin/sh\n{ip} link add {LEAK} type bridge\necho done\n")
    plugin.chmod(0o755)
    assert LEAK not in _root_links()
    with open_backend("sim") as world:
        launcher = launcher_for(world, tmp_path)
        try:
            done = launcher.run(str(plugin), stdin="", env={}, timeout=30,
                                data_dir=str(tmp_path / "data"))
        finally:
            launcher.close()
    try:
        assert done.stdout.strip() == "done", done.stderr
        assert LEAK not in _root_links(), "the plugin built a bridge in the root namespace"
    finally:
        subprocess.run(["ip", "link", "del", LEAK], capture_output=True)
