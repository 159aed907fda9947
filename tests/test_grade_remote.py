"""ctrnet's model as a CNI plugin: the world served to another process, and `ctrnet-cni`
acting on it (ADD, CHECK, DEL and their errors), on the simulator."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import AlreadyExists
from ctrnet.grade.remote import SOCKET_ENV, BackendServer, RemoteBackend
from ctrnet.registry import open_backend


@pytest.fixture
def world() -> Iterator[tuple[Backend, BackendServer]]:
    backend = open_backend("sim")
    server = BackendServer(backend)
    try:
        yield backend, server
    finally:
        server.close()
        backend.close()


def test_remote_calls_act_on_the_served_world(world: tuple[Backend, BackendServer]) -> None:
    backend, server = world
    remote = RemoteBackend.open(server.socket_path)
    try:
        remote.netns_add("c1")
        remote.veth_add(remote.host_ns, "v1", "eth0", "c1")
        assert remote.name == "sim"
        assert backend.link_get("c1", "eth0").peer == "v1"
        assert remote.link_get(backend.host_ns, "v1").peer_ns == "c1"
    finally:
        remote.close()


def test_remote_errors_keep_their_kind_and_errno(world: tuple[Backend, BackendServer]) -> None:
    _, server = world
    remote = RemoteBackend.open(server.socket_path)
    try:
        remote.netns_add("c1")
        with pytest.raises(AlreadyExists) as caught:
            remote.netns_add("c1")
        assert caught.value.errno == errno.EEXIST
    finally:
        remote.close()


def test_netns_paths_resolve_to_the_worlds_names(world: tuple[Backend, BackendServer]) -> None:
    backend, server = world
    backend.netns_add("c1")
    assert server.resolve("/var/run/netns/c1") == "c1"
    assert server.resolve("/var/run/netns/gone") is None


def _cni(server: BackendServer, command: str, container: str, tmp_path: Path,
         prev: dict[str, object] | None = None) -> subprocess.CompletedProcess[str]:
    conf: dict[str, object] = {
        "cniVersion": "1.0.0", "name": "n1", "type": "ctrnet-cni", "bridge": "cni-n1",
        "isGateway": True, "ipMasq": True,
        "ipam": {"type": "host-local", "subnet": "10.77.0.0/29", "gateway": "10.77.0.1",
                 "dataDir": str(tmp_path)}}
    if prev is not None:
        conf["prevResult"] = prev
    env = {**os.environ, SOCKET_ENV: server.socket_path, "CNI_COMMAND": command,
           "CNI_CONTAINERID": container, "CNI_NETNS": f"/var/run/netns/{container}",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/usr/lib/cni"}
    return subprocess.run([sys.executable, "-m", "ctrnet.grade.cni_plugin"],
                          input=json.dumps(conf), capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def test_ctrnet_cni_add_check_del(world: tuple[Backend, BackendServer], tmp_path: Path) -> None:
    backend, server = world
    backend.netns_add("c1")
    added = _cni(server, "ADD", "c1", tmp_path)
    assert added.returncode == 0, added.stdout + added.stderr
    result = json.loads(added.stdout)
    assert result["ips"][0]["address"] == "10.77.0.2/29"
    assert result["interfaces"][0]["sandbox"] == "/var/run/netns/c1"
    assert [a.cidr for a in backend.addr_list("c1", "eth0")] == ["10.77.0.2/29"]
    assert _cni(server, "CHECK", "c1", tmp_path, result).returncode == 0
    assert _cni(server, "DEL", "c1", tmp_path, result).returncode == 0
    assert [link.name for link in backend.link_list("c1")] == ["lo"]
    assert _cni(server, "DEL", "c1", tmp_path, result).returncode == 0  # idempotent


def test_ctrnet_cni_reports_an_exhausted_pool_as_an_error_result(
        world: tuple[Backend, BackendServer], tmp_path: Path) -> None:
    backend, server = world
    for n in range(1, 7):  # a /29 with its gateway: five addresses
        backend.netns_add(f"c{n}")
    for n in range(1, 6):
        assert _cni(server, "ADD", f"c{n}", tmp_path).returncode == 0
    refused = _cni(server, "ADD", "c6", tmp_path)
    assert refused.returncode == 1
    error = json.loads(refused.stdout)
    assert error["code"] == 11 and "n1" in error["msg"]


def test_ctrnet_cni_outside_a_served_world_says_what_it_needs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    env.update(CNI_COMMAND="ADD", CNI_CONTAINERID="c1", CNI_NETNS="/run/netns/c1",
               CNI_IFNAME="eth0")
    done = subprocess.run([sys.executable, "-m", "ctrnet.grade.cni_plugin"], input="{}",
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1
    assert "ctrnet grade" in json.loads(done.stdout)["msg"]
