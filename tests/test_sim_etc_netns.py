"""/etc/netns under `ctrnet sim exec`: the world's per-namespace files are real files to the
script (written with mkdir and echo as on a machine, read back by the doctor and by
`ip netns exec`, which binds them over /etc as iproute2 does), and the run's /etc is its own:
nothing it writes there reaches the machine's."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ctrnet.backends.sim import persist
from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.cmdline.etcnetns import EtcNetns
from ctrnet.backends.sim.cmdline.server import ExecRequested, Invocation, Server

CTRNET = [sys.executable, "-m", "ctrnet.cli"]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="writing /etc/netns needs root, on the "
                             "simulator as on a machine")


def sim(script: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRNET_SIM")}
    return subprocess.run([*CTRNET, "sim", "exec", "--state", str(state), "--", "sh", "-c",
                           script], capture_output=True, text=True, timeout=60, env=env)


@as_root
def test_a_file_the_script_writes_is_the_worlds_and_ip_netns_exec_puts_it_over_etc(
        tmp_path: Path) -> None:
    out = sim("ip netns add c1 && mkdir -p /etc/netns/c1 && "
              "echo 'nameserver 198.51.100.53' > /etc/netns/c1/resolv.conf && "
              "ip netns exec c1 cat /etc/resolv.conf", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "nameserver 198.51.100.53\n"
    world = persist.load(str(tmp_path))
    assert world.etc_read("c1", "resolv.conf") == "nameserver 198.51.100.53\n"


@as_root
def test_the_worlds_files_are_there_to_read_and_to_remove(tmp_path: Path) -> None:
    sim("ip netns add c1", tmp_path)
    world = persist.load(str(tmp_path))
    world.etc_write("c1", "hosts", "198.51.100.7 wan\n")
    persist.save(world, str(tmp_path))
    out = sim("cat /etc/netns/c1/hosts && rm /etc/netns/c1/hosts", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "198.51.100.7 wan\n"
    assert persist.load(str(tmp_path)).etc_read("c1", "hosts") is None


@as_root
def test_writes_under_etc_stay_in_the_run(tmp_path: Path) -> None:
    name = f"/etc/ctrnet-sim-test-{uuid.uuid4().hex}"
    out = sim(f"echo run > {name} && cat {name}", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "run\n"
    assert not Path(name).exists()
    assert not Path("/etc/netns/ctrnet-sim-nosuch").exists()


@as_root
def test_a_namespace_that_is_not_there_keeps_its_folder_as_a_machine_would(
        tmp_path: Path) -> None:
    # On a machine /etc/netns/NAME is a folder like any other: written before the namespace
    # exists, it is what `ip netns exec` binds once the namespace is made.
    out = sim("mkdir -p /etc/netns/later && echo 'nameserver 203.0.113.9' > "
              "/etc/netns/later/resolv.conf && ip netns add later && "
              "ip netns exec later cat /etc/resolv.conf", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "nameserver 203.0.113.9\n"


def test_push_and_pull_agree_with_the_world(tmp_path: Path) -> None:
    world = SimBackend()
    world.netns_add("c1")
    world.etc_write("c1", "resolv.conf", "nameserver 198.51.100.53\n")
    etc = EtcNetns(tmp_path / "etc")
    etc.push(world)
    path = etc.directory / "c1" / "resolv.conf"
    assert path.read_text() == "nameserver 198.51.100.53\n"
    path.write_text("nameserver 203.0.113.53\n")
    (etc.directory / "c1" / "hosts").write_text("203.0.113.1 gw\n")
    (etc.directory / "c1" / "link").symlink_to("/etc/shadow")  # never followed
    etc.pull(world)
    assert world.etc_read("c1", "resolv.conf") == "nameserver 203.0.113.53\n"
    assert world.etc_read("c1", "hosts") == "203.0.113.1 gw\n"
    assert world.etc_read("c1", "link") is None
    world.etc_delete("c1", "hosts")  # e.g. `ctrnet disconnect`, inside a request
    etc.push(world)
    assert not (etc.directory / "c1" / "hosts").exists()
    (etc.directory / "c1" / "resolv.conf").unlink()
    etc.pull(world)
    assert world.etc_read("c1", "resolv.conf") is None


def test_without_root_ip_netns_exec_says_the_files_are_not_put_over_etc(
        tmp_path: Path) -> None:
    world = SimBackend()
    world.netns_add("c1")
    world.etc_write("c1", "resolv.conf", "nameserver 198.51.100.53\n")
    server = Server(world, str(tmp_path / "sock"), str(tmp_path), {})
    try:
        inv = Invocation(tool="ip", argv=[], ns="", cwd="/", pid=1, env={}, fds={})
        server.etc_bound = False
        server._warn_unbound_etc(inv, ExecRequested("c1", ["cat", "/etc/resolv.conf"]))
        said = "".join(text for _, text in inv.chunks)
        assert said == ("ctrnet sim: /etc/netns/c1/ (resolv.conf) is not put over /etc for "
                        "this command: that needs a run as root\n")
        inv.chunks.clear()
        server.etc_bound = True
        server._warn_unbound_etc(inv, ExecRequested("c1", ["cat", "/etc/resolv.conf"]))
        assert inv.chunks == []
    finally:
        server.close()
