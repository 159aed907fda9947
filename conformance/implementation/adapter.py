"""The Implementation adapter: what the implementation-conformance suite drives.

An implementation (ctrnet's reference model here; a CNI plugin later) is told to set up a
network from a config dict in CNI's vocabulary, to add and delete containers, and to tear
down. The suite never believes what it answers beyond the attachment it reports: every
test observes the world through the backend. Capabilities say what an implementation
offers beyond the basics; a test needing one it lacks is skipped with the reason.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ctrnet.backend import THREAD_SAFE, Backend
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec, PortMapping
from ctrnet.plan import fail_at
from ctrnet.types import Proto

__all__ = ["IMPLEMENTATIONS", "Attachment", "Implementation", "ReferenceImplementation"]


@dataclass(frozen=True)
class Attachment:
    """What an ADD reports: the container's interface and its address (CNI's result)."""

    ifname: str
    ip: str
    prefixlen: int
    gateway: str | None
    mac: str


class Implementation(abc.ABC):
    """A container-network implementation under test, acting on one backend's world."""

    name: str = ""
    #: Beyond the basics (bridge networks, add/check/delete): "ports", "icc", "isolation"
    #: (between networks), "antispoof", "bandwidth", "dns", "modes" (host/none),
    #: "remove" (a removed network leaves nothing), "fault-injection", "threads".
    capabilities: frozenset[str] = frozenset()
    #: Backend capabilities the implementation cannot work without.
    backend_needs: frozenset[str] = frozenset()

    def __init__(self, backend: Backend, workdir: str) -> None:
        self.backend = backend
        self.workdir = workdir
        #: Where the implementation keeps its records, if on disk (rollback tests compare it).
        self.state_dir: str | None = None

    def missing(self, capability: str) -> str | None:
        if capability in self.capabilities:
            return None
        return f"implementation {self.name!r} lacks {capability!r}"

    @abc.abstractmethod
    def setup(self, config: dict[str, Any]) -> None:
        """Make a network: {"name", "bridge", "subnet", "gateway"?, "ipMasq"?, "mtu"?,
        "icc"?, "antispoof"?, "dns": {"nameservers": [...]}?}."""

    @abc.abstractmethod
    def add(self, network: str, container_ns: str, ifname: str = "eth0",
            runtime: dict[str, Any] | None = None) -> Attachment:
        """Attach `container_ns` (made by the caller). `runtime` as CNI's runtimeConfig:
        {"portMappings": [{"hostPort", "containerPort", "protocol", "hostIP"?}],
        "bandwidth": {"ingressRate", "egressRate"} (bit/s)}. Network "host"/"none": modes."""

    @abc.abstractmethod
    def check(self, network: str, container_ns: str, ifname: str = "eth0") -> None:
        """Raise if the attachment is not as ADD made it (CNI CHECK)."""

    @abc.abstractmethod
    def delete(self, network: str, container_ns: str, ifname: str = "eth0") -> None:
        """Detach; idempotent (CNI DEL)."""

    @abc.abstractmethod
    def remove(self, network: str) -> None:
        """Remove a network set up before; idempotent."""

    def teardown(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release what the implementation holds (not the backend's world)."""

    # -- optional: fault injection ("fault-injection" capability) ------------------------------
    def steps(self, operation: str, action: Callable[[], object]) -> list[str]:
        """The step names `operation` goes through while `action` runs."""
        raise NotImplementedError

    def inject(self, step: str | None, operation: str | None = None, *,
               kill: bool = False) -> None:
        """Make `step` fail from now on (None: stop failing); `kill`: the process dies there
        with status 9, as if SIGKILLed (crash tests run it in a forked child)."""
        raise NotImplementedError


class ReferenceImplementation(Implementation):
    """ctrnet's own model (`NetworkManager`) with a state directory under `workdir`."""

    name = "ctrnet"
    capabilities = frozenset({"ports", "icc", "isolation", "antispoof", "bandwidth", "dns",
                              "modes", "remove", "fault-injection", "threads"})
    backend_needs = frozenset({"iptables", "ebtables"})

    def __init__(self, backend: Backend, workdir: str) -> None:
        super().__init__(backend, workdir)
        self.state_dir = os.path.join(workdir, "state")
        # Rule steps overlap link steps on a backend whose calls may come from two threads.
        self.manager = NetworkManager(backend, self.state_dir,
                                      concurrent_tools=THREAD_SAFE in backend.capabilities)

    def setup(self, config: dict[str, Any]) -> None:
        dns = config.get("dns", {}).get("nameservers", [])
        spec = NetworkSpec(
            name=config["name"], subnet=config["subnet"], bridge=config.get("bridge", ""),
            gateway=config.get("gateway", ""), mtu=config.get("mtu", 1500),
            masquerade=config.get("ipMasq", True), icc=config.get("icc", True),
            antispoof=config.get("antispoof", True), dns=tuple(dns))
        self.manager.create_network(spec)

    def add(self, network: str, container_ns: str, ifname: str = "eth0",
            runtime: dict[str, Any] | None = None) -> Attachment:
        runtime = runtime or {}
        ports = tuple(
            PortMapping(p["hostPort"], p["containerPort"], Proto(p.get("protocol", "tcp")),
                        p.get("hostIP") or None)
            for p in runtime.get("portMappings", ()))
        bandwidth = runtime.get("bandwidth", {})
        record = self.manager.connect(EndpointSpec(
            container=container_ns, network=network, ifname=ifname, ports=ports,
            ingress_bps=bandwidth.get("ingressRate"), egress_bps=bandwidth.get("egressRate"),
            dns=tuple(runtime.get("dns", {}).get("nameservers", ()))))
        return Attachment(record.ifname, record.ip, record.prefixlen, record.gateway or None,
                          record.mac)

    def check(self, network: str, container_ns: str, ifname: str = "eth0") -> None:
        record = self.manager.state.endpoint(network, container_ns)
        if record is None or not record.active:
            raise AssertionError(f"{container_ns} is not attached to {network}")
        if record.ip:
            addresses = {a.cidr for a in self.backend.addr_list(container_ns, ifname)}
            if f"{record.ip}/{record.prefixlen}" not in addresses:
                raise AssertionError(f"{container_ns} lost {record.ip} on {ifname}")

    def delete(self, network: str, container_ns: str, ifname: str = "eth0") -> None:
        self.manager.disconnect(network, container_ns)

    def remove(self, network: str) -> None:
        self.manager.delete_network(network, force=True)

    def teardown(self) -> None:
        self.manager.close()

    def steps(self, operation: str, action: Callable[[], object]) -> list[str]:
        seen: list[str] = []
        self.manager.trace = lambda op, step: seen.append(step) if op == operation else None
        try:
            action()
        finally:
            self.manager.trace = None
        return seen

    def inject(self, step: str | None, operation: str | None = None, *,
               kill: bool = False) -> None:
        if step is None:
            self.manager.fault = None
        elif kill:
            def die(op: str, name: str) -> None:
                if name == step and (operation is None or op == operation):
                    os._exit(9)

            self.manager.fault = die
        else:
            self.manager.fault = fail_at(step, operation)


#: Implementation name -> factory. A CNI plugin adapter registers itself here.
IMPLEMENTATIONS: dict[str, type[Implementation]] = {
    "ctrnet": ReferenceImplementation,
}
