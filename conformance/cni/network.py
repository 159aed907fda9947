"""The world a CNI plugin is graded in, and the runtime's side of the CNI contract.

A sandbox host namespace with an uplink to a *wan* namespace (TEST-NET-3 addresses, no route
back to the containers' subnet, so only masqueraded traffic gets answers), container
namespaces made on demand, and a `CniNetwork` that runs ADD / CHECK / DEL like a container
runtime and remembers what each container was given so that teardown deletes it all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ctrnet.backend import Backend
from ctrnet.grade.cni import CniResult, NetworkConfig, Plugin, PluginFailed
from ctrnet.grade.launch import RecordingLauncher, ToolRun
from ctrnet.types import Link, LinkKind

WAN_NS = "wan"
UPLINK = "uplink"
HOST_UPLINK_CIDR = "203.0.113.1/24"
WAN_ADDRESS = "203.0.113.254"
IFNAME = "eth0"

MAIN = {"name": "grade-main", "bridge": "cni-grade0", "subnet": "172.20.0.0/24",
        "gateway": "172.20.0.1"}
#: A /29 with its gateway: five addresses to hand out (.2–.6).
SMALL = {"name": "grade-small", "bridge": "cni-small0", "subnet": "172.20.9.0/29",
         "gateway": "172.20.9.1"}


def build_wan(backend: Backend) -> None:
    """The host's uplink to a wan namespace standing in for the internet."""
    host = backend.host_ns
    backend.netns_add(WAN_NS)
    backend.veth_add(host, UPLINK, "eth0", WAN_NS)
    backend.addr_add(host, UPLINK, HOST_UPLINK_CIDR)
    backend.addr_add(WAN_NS, "eth0", f"{WAN_ADDRESS}/24")
    backend.link_set_up(host, UPLINK)
    backend.link_set_up(WAN_NS, "eth0")
    backend.link_set_up(WAN_NS, "lo")
    backend.route_add(host, "default", gateway=WAN_ADDRESS)


@dataclass
class Attachment:
    """One container the plugin attached: its namespace and what ADD answered."""

    container_id: str
    ns: str
    result: CniResult
    deleted: bool = False

    @property
    def ip(self) -> str:
        config = self.result.container_ip(IFNAME)
        assert config is not None  # parse_result refuses a result without ips
        return str(config.address.ip)


@dataclass
class CniNetwork:
    """One network config of the plugin under test, used like a container runtime does."""

    backend: Backend
    plugin: Plugin
    launcher: RecordingLauncher
    attachments: dict[str, Attachment] = field(default_factory=dict)

    @property
    def config(self) -> NetworkConfig:
        return self.plugin.config

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.config.subnet)

    def add(self, container_id: str) -> Attachment:
        """A new container namespace named `container_id`, attached with ADD."""
        if container_id not in self.backend.netns_list():
            self.backend.netns_add(container_id)
            self.backend.link_set_up(container_id, "lo")  # the runtime's job, not the plugin's
        result = self.plugin.add(container_id, container_id, IFNAME)
        attachment = Attachment(container_id, container_id, result)
        self.attachments[container_id] = attachment
        return attachment

    def delete(self, attachment: Attachment) -> None:
        self.plugin.delete(attachment.container_id, attachment.ns, IFNAME, attachment.result)
        attachment.deleted = True

    def holder_of(self, ip: str, *, besides: str) -> str | None:
        for other in self.attachments.values():
            if other.container_id != besides and not other.deleted and other.ip == ip:
                return other.container_id
        return None

    def host_end(self, attachment: Attachment) -> Link:
        """The host-side end of the container's veth, found from the container's end."""
        inside = self.backend.link_get(attachment.ns, IFNAME)
        host = self.backend.host_ns
        if inside.peer is None:
            raise AssertionError(f"{attachment.container_id}: {IFNAME} has no veth peer "
                                 f"(it is a {inside.kind.value} link)")
        if inside.peer_ns != host:
            raise AssertionError(f"{attachment.container_id}: the peer of {IFNAME} is in "
                                 f"namespace {inside.peer_ns}, not in the host")
        return self.backend.link_get(host, inside.peer)

    def veths_in_host(self) -> set[str]:
        return {link.name for link in self.backend.link_list(self.backend.host_ns)
                if link.kind is LinkKind.VETH and link.name != UPLINK}

    def tool_runs(self) -> list[ToolRun]:
        return self.launcher.tool_runs()

    def teardown(self) -> None:
        """DEL every container still attached; a failing DEL must not stop the others (the
        backend's world removal takes whatever is left)."""
        for attachment in self.attachments.values():
            if not attachment.deleted:
                try:
                    self.delete(attachment)
                except PluginFailed:
                    pass


def add_quietly(network: CniNetwork, container_id: str) -> Attachment | str:
    """ADD, or the one-line reason it failed."""
    try:
        return network.add(container_id)
    except PluginFailed as exc:
        return str(exc)
