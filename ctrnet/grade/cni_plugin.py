"""`ctrnet-cni`: ctrnet's own model (NetworkManager) as a CNI 1.0 plugin.

Reads the CNI environment and the bridge-style network config on stdin, creates the network
on first use (state under `ipam.dataDir`/ctrnet), connects or disconnects the container, and
prints the CNI result or error. It acts on the world the grader serves (`remote`), so the CNI
path of the reference is graded on both backends. Standalone use on a host needs a kernel
backend that adopts existing namespaces, which ctrnet does not offer yet: it says so.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ctrnet.errors import AlreadyExists, CtrnetError, InvalidConfig, NotFound, PoolExhausted
from ctrnet.grade.remote import SOCKET_ENV, RemoteBackend
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec

CNI_VERSION = "1.0.0"


class CniError(Exception):
    """An error result: CNI's well-known codes (SPEC section "Error")."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def as_json(self) -> str:
        out: dict[str, Any] = {"cniVersion": CNI_VERSION, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return json.dumps(out)


def _code(exc: CtrnetError) -> int:
    if isinstance(exc, PoolExhausted):
        return 11  # "try again later"
    if isinstance(exc, InvalidConfig):
        return 7  # invalid network config
    if isinstance(exc, NotFound):
        return 3  # container unknown or does not exist
    return 999


def _env(name: str, *, required: bool = True) -> str:
    value = os.environ.get(name, "")
    if required and not value:
        raise CniError(4, f"{name} is not set")
    return value


def _network_spec(conf: dict[str, Any]) -> NetworkSpec:
    ipam = conf.get("ipam") or {}
    if not ipam.get("subnet"):
        raise CniError(7, "ipam.subnet is missing from the network config")
    return NetworkSpec(
        name=str(conf["name"]), subnet=str(ipam["subnet"]), bridge=str(conf.get("bridge", "")),
        gateway=str(ipam.get("gateway", "")), mtu=int(conf.get("mtu", 1500)),
        masquerade=bool(conf.get("ipMasq", False)))


class _Containers:
    """CNI_CONTAINERID -> the world's namespace name, kept so DEL finds a container whose
    namespace is already gone."""

    def __init__(self, root: Path) -> None:
        self.root = root / "cni-containers"

    def remember(self, container_id: str, ns: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / container_id).write_text(ns)

    def recall(self, container_id: str) -> str | None:
        path = self.root / container_id
        return path.read_text() if path.exists() else None

    def forget(self, container_id: str) -> None:
        (self.root / container_id).unlink(missing_ok=True)


def run(command: str, conf: dict[str, Any]) -> dict[str, Any] | None:
    """One CNI command; the result to print, if any."""
    socket_path = os.environ.get(SOCKET_ENV)
    if not socket_path:
        raise CniError(5, "ctrnet-cni acts on a world ctrnet serves: run it under "
                       "`ctrnet grade` (adopting a host's namespaces is not supported yet)")
    container_id = _env("CNI_CONTAINERID")
    ifname = _env("CNI_IFNAME", required=command != "DEL") or "eth0"
    netns = _env("CNI_NETNS", required=command != "DEL")
    data_dir = (conf.get("ipam") or {}).get("dataDir") or "/var/lib/cni/networks"
    state_dir = Path(data_dir) / "ctrnet"
    containers = _Containers(state_dir)
    backend = RemoteBackend.open(socket_path)
    manager = NetworkManager(backend, state_dir)
    try:
        ns = backend.resolve(netns) if netns else None
        name = str(conf["name"])
        if command == "ADD":
            if ns is None:
                raise CniError(3, f"CNI_NETNS {netns} is not a namespace of this world")
            if manager.state.network(name) is None:
                try:
                    manager.create_network(_network_spec(conf))
                except (AlreadyExists, InvalidConfig):
                    if manager.state.network(name) is None:  # not a concurrent ADD's doing
                        raise
            containers.remember(container_id, ns)
            record = manager.connect(EndpointSpec(container=ns, network=name, ifname=ifname))
            return {
                "cniVersion": CNI_VERSION,
                "interfaces": [{"name": ifname, "mac": record.mac, "sandbox": netns}],
                "ips": [{"address": f"{record.ip}/{record.prefixlen}",
                         **({"gateway": record.gateway} if record.gateway else {}),
                         "interface": 0}],
                "routes": [{"dst": "0.0.0.0/0", **({"gw": record.gateway}
                                                   if record.gateway else {})}],
                "dns": {},
            }
        if command == "DEL":
            # CNI: DEL succeeds whatever is already gone (the namespace, the endpoint).
            known = ns or containers.recall(container_id)
            if known is not None and manager.state.network(name) is not None:
                manager.disconnect(name, known)
            containers.forget(container_id)
            return None
        if command == "CHECK":
            endpoint = manager.state.endpoint(name, ns) if ns else None
            if endpoint is None or not endpoint.active:
                raise CniError(3, f"container {container_id} is not attached to {name}")
            held = {a.cidr for a in backend.addr_list(endpoint.container, ifname)}
            if f"{endpoint.ip}/{endpoint.prefixlen}" not in held:
                raise CniError(3, f"{ifname} of {container_id} lost {endpoint.ip}")
            return None
        raise CniError(4, f"unknown CNI_COMMAND {command!r}")
    finally:
        manager.close()
        backend.close()


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    try:
        if command == "VERSION":
            print(json.dumps({"cniVersion": CNI_VERSION, "supportedVersions": [CNI_VERSION]}))
            return 0
        try:
            conf = json.loads(sys.stdin.read())
        except ValueError as exc:
            raise CniError(6, f"network config on stdin is not JSON: {exc}") from None
        result = run(command, conf)
    except CniError as exc:
        print(exc.as_json())
        return 1
    except CtrnetError as exc:
        print(CniError(_code(exc), str(exc)).as_json())
        return 1
    if result is not None:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
