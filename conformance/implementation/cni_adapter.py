"""A CNI plugin as an `Implementation` of the implementation-conformance suite.

The suite's network config (CNI vocabulary already) becomes the bridge-style CNI network
configuration on the plugin's stdin; add / check / delete are ADD / CHECK / DEL with the
standard environment and the previous result, run in the world's host namespace by a
`ctrnet.grade.launch` launcher (kernel: nsenter with tool recorders; simulator: the simulated
command line). CNI has no "remove network": a plugin's bridge outlives its last container.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from ctrnet.backend import Backend
from ctrnet.grade.cni import CniResult, NetworkConfig, Plugin, PluginFailed
from ctrnet.grade.launch import RecordingLauncher, launcher_for
from ctrnet.grade.runner import conf_extra
from ctrnet.grade.sandbox import Finished

from .adapter import Attachment, Implementation

__all__ = ["CniImplementation", "cni_factory", "make_implementation"]

#: Where Debian's containernetworking-plugins (and CNI's convention) put plugins: the
#: reference `bridge` plugin finds `host-local` there.
SYSTEM_CNI_PATH = tuple(p for p in ("/usr/lib/cni", "/opt/cni/bin") if os.path.isdir(p))


class CniImplementation(Implementation):
    """A CNI 1.0 plugin binary, any language, driven like a container runtime drives it."""

    #: The basics only: publishing, ICC, anti-spoofing, bandwidth and the rest are other
    #: plugins' business in CNI (portmap, firewall, bandwidth), not a bridge plugin's.
    capabilities: frozenset[str] = frozenset()

    def __init__(self, backend: Backend, workdir: str, plugin_path: str,
                 timeout: float | None = None) -> None:
        super().__init__(backend, workdir)
        self.name = f"cni:{plugin_path}"
        self.plugin_path = os.path.abspath(plugin_path)
        self._launcher: RecordingLauncher | None = None
        self.timeout = timeout if timeout is not None else float(
            os.environ.get("CTRNET_CNI_TIMEOUT", "10"))
        #: Where the plugin's IPAM keeps its files (host-local's dataDir), and the networks
        #: set up, so that a second adapter on the same workdir sees them.
        self.ipam_dir = os.path.join(workdir, "state", "ipam")
        self.state_dir = os.path.dirname(self.ipam_dir)
        self.plugins: dict[str, Plugin] = {}
        self._load()
        #: (network, container_ns, ifname) -> the ADD result, handed back as prevResult.
        self.results: dict[tuple[str, str, str], CniResult] = {}

    def setup(self, config: dict[str, Any]) -> None:
        subnet = ipaddress.IPv4Network(config["subnet"])
        gateway = config.get("gateway") or str(next(subnet.hosts()))
        extra = {**conf_extra(), **{k: v for k, v in config.items()
                                    if k in ("mtu", "dns") and v is not None}}
        network = NetworkConfig(
            name=config["name"], plugin_type=os.path.basename(self.plugin_path),
            bridge=config.get("bridge") or f"cni-{config['name']}"[:15], subnet=str(subnet),
            gateway=gateway, data_dir=self.ipam_dir,
            ip_masq=bool(config.get("ipMasq", True)), extra=extra)
        self._bind(network)
        self._save()

    @property
    def launcher(self) -> RecordingLauncher:
        """Made on first use: an instance that never runs the plugin (a test skipped after
        making it) holds no server or socket."""
        if self._launcher is None:
            self._launcher = launcher_for(self.backend, Path(self.workdir) / "run")
        return self._launcher

    def _bind(self, network: NetworkConfig) -> None:
        self.plugins[network.name] = Plugin(self.plugin_path, network, _Deferred(self),
                                            SYSTEM_CNI_PATH, self.timeout)

    def _save(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        data = [dataclasses.asdict(p.config) for p in self.plugins.values()]
        Path(self.workdir, "cni-networks.json").write_text(json.dumps(data))

    def _load(self) -> None:
        saved = Path(self.workdir, "cni-networks.json")
        if saved.exists():
            for fields in json.loads(saved.read_text()):
                self._bind(NetworkConfig(**fields))

    def _plugin(self, network: str) -> Plugin:
        try:
            return self.plugins[network]
        except KeyError:
            raise PluginFailed(f"network {network!r} was not set up") from None

    def add(self, network: str, container_ns: str, ifname: str = "eth0",
            runtime: dict[str, Any] | None = None) -> Attachment:
        plugin = self._plugin(network)
        # The runtime's part before ADD: CNI's `loopback` plugin brings lo up.
        self.backend.link_set_up(container_ns, "lo")
        try:
            result = plugin.add(container_ns, container_ns, ifname)
        except PluginFailed:
            # A runtime follows a failed ADD with DEL (containerd and CRI-O do), so that
            # whatever the failed ADD left is cleaned up before anything else happens.
            try:
                plugin.delete(container_ns, container_ns, ifname)
            except PluginFailed:
                pass
            raise
        self.results[(network, container_ns, ifname)] = result
        ip = result.container_ip(ifname)
        assert ip is not None  # parse_result refuses a result without ips
        # The MAC as the kernel has it, not as the plugin claims it.
        mac = self.backend.link_get(container_ns, ifname).mac
        return Attachment(ifname, str(ip.address.ip), ip.address.network.prefixlen,
                          str(ip.gateway) if ip.gateway else None, mac)

    def check(self, network: str, container_ns: str, ifname: str = "eth0") -> None:
        result = self.results.get((network, container_ns, ifname))
        if result is None:
            raise AssertionError(f"{container_ns} is not attached to {network}")
        self._plugin(network).check(container_ns, container_ns, result, ifname)

    def delete(self, network: str, container_ns: str, ifname: str = "eth0") -> None:
        result = self.results.pop((network, container_ns, ifname), None)
        ns: str | None = container_ns if container_ns in self.backend.netns_list() else None
        path = None if ns is not None else ""  # CNI: an empty CNI_NETNS when it is gone
        self._plugin(network).delete(container_ns, ns, ifname, result, netns_path=path)

    def remove(self, network: str) -> None:
        if self.plugins.pop(network, None) is not None:
            self._save()

    def teardown(self) -> None:
        try:
            for (network, container_ns, ifname) in list(self.results):
                try:
                    self.delete(network, container_ns, ifname)
                except PluginFailed:
                    pass  # the world's removal takes whatever a failing DEL left
        finally:
            if self._launcher is not None:
                self._launcher.close()
                self._launcher = None


class _Deferred:
    """The adapter's launcher, made when a plugin first runs (see `launcher`)."""

    def __init__(self, owner: CniImplementation) -> None:
        self._owner = owner

    def run(self, plugin: str, *, stdin: str, env: dict[str, str], timeout: float,
            data_dir: str) -> Finished:
        return self._owner.launcher.run(plugin, stdin=stdin, env=env, timeout=timeout,
                                        data_dir=data_dir)

    def netns_path(self, ns: str) -> str:
        return self._owner.launcher.netns_path(ns)


def cni_factory(spec: str) -> type[CniImplementation]:
    """An Implementation class for "cni:PATH", constructed like the registry's entries
    (`cls(backend, workdir)`), to register under the spec in `IMPLEMENTATIONS`."""
    path = os.path.abspath(spec.removeprefix("cni:"))

    class BoundCniImplementation(CniImplementation):
        def __init__(self, backend: Backend, workdir: str) -> None:
            super().__init__(backend, workdir, path)

    BoundCniImplementation.__name__ = f"CniImplementation[{os.path.basename(path)}]"
    return BoundCniImplementation


def make_implementation(spec: str, backend: Backend, workdir: str) -> Implementation:
    """The implementation `--impl` names: "ctrnet" or "cni:PATH"."""
    from .adapter import IMPLEMENTATIONS

    if spec.startswith("cni:"):
        return CniImplementation(backend, workdir, spec.removeprefix("cni:"))
    return IMPLEMENTATIONS[spec](backend, workdir)
