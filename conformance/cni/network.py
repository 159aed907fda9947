"""The world a CNI plugin is graded in, the runtime's side of the CNI contract, and the
prerequisite guards every check stands on.

A sandbox host namespace with an uplink to a *wan* namespace (TEST-NET-3 addresses, no route
back to the containers' subnet, so only masqueraded traffic gets answers), container
namespaces made on demand, and a `CniNetwork` that runs ADD / CHECK / DEL like a container
runtime and remembers what each container was given so that teardown deletes it all.

Everything is judged on what the kernel (or the simulator) holds, never on what the plugin
printed: the container's interface is the one called CNI_IFNAME or, when the plugin ignored
that name, the only link it put in the namespace; its address is the one that interface holds.

The guards (`interface`, `host_end`, `require_*`) check a prerequisite of a check and, when it
does not hold, raise `Blocked` naming the checklist item (or extra topic) it belongs to, in
the guide's order: namespace → veth → bridge → IPAM → NAT, with the container's routes under
netlink (§5.2 is where the guide adds the default route). The grade then reports the check as
blocked by that item rather than as a failure of its own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError
from ctrnet.grade.cni import CniResult, NetworkConfig, Plugin, PluginFailed
from ctrnet.grade.launch import RecordingLauncher, ToolRun
from ctrnet.types import Link, LinkKind, PortState

WAN_NS = "wan"
UPLINK = "uplink"
HOST_UPLINK_CIDR = "203.0.113.1/24"
WAN_ADDRESS = "203.0.113.254"
IFNAME = "eth0"
#: The extra topic of CNI's own contract (ADD / DEL / CHECK, the result's format).
CNI = "cni"

MAIN = {"name": "grade-main", "bridge": "cni-grade0", "subnet": "172.20.0.0/24",
        "gateway": "172.20.0.1"}
#: A /29 with its gateway: five addresses to hand out (.2–.6).
SMALL = {"name": "grade-small", "bridge": "cni-small0", "subnet": "172.20.9.0/29",
         "gateway": "172.20.9.1"}
#: A /30: one address to hand out (.2).
TINY = {"name": "grade-tiny", "bridge": "cni-tiny0", "subnet": "172.20.8.0/30",
        "gateway": "172.20.8.1"}


class Blocked(AssertionError):  # noqa: N818 - it reads as the verdict it carries
    """This check cannot be judged: something more basic (`where`, a checklist item or an
    extra topic) is broken. The grade files the check as blocked by `where`. `ja`, the
    reason in Japanese when there is one (a plugin's failure), goes to the report too."""

    def __init__(self, where: str, reason: str, *, ja: str | None = None) -> None:
        super().__init__(f"blocked by {where}: {reason}")
        self.where = where
        self.reason = reason
        #: The reason in Japanese, or None (`verdict.own` carries it into the check's failure).
        self.reason_ja = ja
        #: Read by the grader (`ctrnet.grade.runner`): the message in Japanese, or None.
        self.message_ja = None if ja is None else f"blocked by {where}: {ja}"


class Finding(AssertionError):  # noqa: N818 - it reads as what the check found
    """A check's own failure, worded in English and in Japanese (`message_ja`, which the
    grader's report shows under --lang ja)."""

    def __init__(self, message: str, *, ja: str) -> None:
        super().__init__(message)
        self.message_ja = ja


class Problem(str):
    """What a guard found wrong, in English (the string itself, "" when nothing is) and in
    Japanese (`ja`): checks assert on it and guards pass both wordings to Blocked."""

    ja: str

    def __new__(cls, english: str = "", ja: str = "") -> Problem:
        self = super().__new__(cls, english)
        self.ja = ja
        return self


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
    """One container the plugin attached: its namespace and what ADD printed."""

    container_id: str
    ns: str
    result: CniResult
    deleted: bool = False


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

    @property
    def gateway_cidr(self) -> str:
        return f"{self.config.gateway}/{self.subnet.prefixlen}"

    # -- the runtime's side ------------------------------------------------------------------

    def make_namespace(self, container_id: str) -> None:
        if container_id not in self.backend.netns_list():
            self.backend.netns_add(container_id)
            self.backend.link_set_up(container_id, "lo")  # the runtime's job, not the plugin's

    def add(self, container_id: str) -> Attachment:
        """A new container namespace named `container_id`, attached with ADD. A failing ADD
        blocks the check that needed it (reported under the CNI contract)."""
        try:
            return self.attach(container_id)
        except PluginFailed as exc:
            raise Blocked(CNI, str(exc), ja=exc.in_lang("ja")) from None

    def attach(self, container_id: str) -> Attachment:
        """ADD; PluginFailed when it fails. The result is read leniently: its format is a
        check of its own (topic cni), the network is judged on what the kernel holds."""
        self.make_namespace(container_id)
        result = self.plugin.add(container_id, container_id, IFNAME, strict=False)
        attachment = Attachment(container_id, container_id, result)
        self.attachments[container_id] = attachment
        return attachment

    def delete(self, attachment: Attachment) -> None:
        """DEL; a failing DEL blocks the check that needed it (reported under cni)."""
        try:
            self.plugin.delete(attachment.container_id, attachment.ns, IFNAME,
                               attachment.result)
        except PluginFailed as exc:
            raise Blocked(CNI, str(exc), ja=exc.in_lang("ja")) from None
        attachment.deleted = True

    def teardown(self) -> None:
        """DEL every container still attached; a failing DEL must not stop the others (the
        backend's world removal takes whatever is left)."""
        for attachment in self.attachments.values():
            if not attachment.deleted:
                try:
                    self.plugin.delete(attachment.container_id, attachment.ns, IFNAME,
                                       attachment.result)
                except PluginFailed:
                    pass
                attachment.deleted = True

    # -- observation ---------------------------------------------------------------------------

    def links(self, ns: str) -> list[Link]:
        try:
            return self.backend.link_list(ns)
        except CtrnetError:
            return []

    def find_interface(self, attachment: Attachment) -> Link | None:
        """The container's interface: CNI_IFNAME, else the only link besides lo."""
        links = [link for link in self.links(attachment.ns) if link.name != "lo"]
        named = [link for link in links if link.name == IFNAME]
        if named:
            return named[0]
        return links[0] if len(links) == 1 else None

    def new_host_veths(self) -> list[Link]:
        return [link for link in self.links(self.backend.host_ns)
                if link.kind is LinkKind.VETH and link.name != UPLINK]

    def veths_in_host(self) -> set[str]:
        return {link.name for link in self.new_host_veths()}

    def held_addresses(self, attachment: Attachment) -> list[ipaddress.IPv4Interface]:
        inside = self.find_interface(attachment)
        if inside is None:
            return []
        return [ipaddress.IPv4Interface(a.cidr) for a in self.backend.addr_list(
            attachment.ns, inside.name) if ":" not in a.ip]

    def holder_of(self, ip: str, *, besides: str) -> str | None:
        for other in self.attachments.values():
            if other.container_id == besides or other.deleted:
                continue
            if any(str(a.ip) == ip for a in self.held_addresses(other)):
                return other.container_id
        return None

    def tool_runs(self) -> list[ToolRun]:
        return self.launcher.tool_runs()

    # -- guards: each raises Blocked(item, reason) when its prerequisite does not hold ---------

    def interface(self, attachment: Attachment) -> Link:
        """netns (§1.1): the container's interface is inside its namespace."""
        inside = self.find_interface(attachment)
        if inside is not None:
            return inside
        others = [link.name for link in self.links(attachment.ns) if link.name != "lo"]
        who = attachment.container_id
        if others:
            why = f"{who}: none of its links ({', '.join(others)}) is {IFNAME}"
            why_ja = (f"{who}: 名前空間の中のリンク ({', '.join(others)}) はどれも {IFNAME} "
                      "ではありません")
        else:
            host = sorted(link.name for link in self.new_host_veths() if link.peer_ns in
                          (None, self.backend.host_ns))
            why = (f"{who}: no interface inside its namespace (CNI_NETNS)"
                   + (f"; the host holds {', '.join(host)}: move the container's end "
                      "into the namespace" if host else ""))
            why_ja = (f"{who}: 名前空間 (CNI_NETNS) の中にインターフェースがありません"
                      + (f"。ホストに {', '.join(host)} があります: コンテナ側の端を"
                         "名前空間へ移してください" if host else ""))
        raise Blocked("netns", why, ja=why_ja)

    def address(self, attachment: Attachment) -> ipaddress.IPv4Interface:
        """netns (§1.1): the container's address is configured inside its namespace."""
        inside = self.interface(attachment)
        held = self.held_addresses(attachment)
        if held:
            return held[0]
        reported = attachment.result.container_ip(IFNAME)
        on_host = [a for a in self.backend.addr_list(self.backend.host_ns)
                   if reported is not None and a.ip == str(reported.address.ip)]
        who = attachment.container_id
        if on_host:
            ip, dev = on_host[0].ip, on_host[0].ifname
            raise Blocked("netns", f"{who}: its address {ip} was put on the host's {dev}, not "
                                   "inside the container",
                          ja=f"{who}: アドレス {ip} がコンテナの中ではなくホストの {dev} に"
                             "付けられています")
        raise Blocked("netns", f"{who}: {inside.name} holds no IPv4 address inside the container",
                      ja=f"{who}: コンテナの中の {inside.name} に IPv4 アドレスがありません")

    def ip(self, attachment: Attachment) -> str:
        return str(self.address(attachment).ip)

    def host_end(self, attachment: Attachment) -> Link:
        """veth (§1.2): the container's interface is a veth whose other end is in the host."""
        inside = self.interface(attachment)
        who = attachment.container_id
        if inside.kind is not LinkKind.VETH:
            raise Blocked("veth", f"{who}: {inside.name} is a {inside.kind.value} link, "
                                  "not a veth",
                          ja=f"{who}: {inside.name} は veth ではなく {inside.kind.value} "
                             "リンクです")
        if inside.peer is None or inside.peer_ns != self.backend.host_ns:
            where_ja = (f"{inside.peer_ns} にあります" if inside.peer_ns
                        else "どの名前空間にもありません")
            raise Blocked("veth", f"{who}: the other end of {inside.name} is not in the host "
                                  f"namespace (it is in {inside.peer_ns or 'no namespace'})",
                          ja=f"{who}: veth ペア {inside.name} のもう一方の端がホストの名前空間に"
                             f"ありません（{where_ja}）")
        return self.backend.link_get(self.backend.host_ns, inside.peer)

    def require_up(self, attachment: Attachment) -> None:
        """veth (§1.2): both ends up, so what enters one comes out of the other."""
        outside = self.host_end(attachment)
        inside = self.interface(attachment)
        who = attachment.container_id
        if not outside.up:
            raise Blocked("veth", f"{who}: host end {outside.name} is down",
                          ja=f"{who}: ホスト側の端 {outside.name} が down です")
        if not inside.up:
            raise Blocked("veth", f"{who}: {inside.name} is down inside the container",
                          ja=f"{who}: コンテナの中の {inside.name} が down です")

    def require_bridge(self) -> Link:
        """bridge (§2.2): the configured bridge exists, is up and holds the gateway."""
        name = self.config.bridge
        found = [link for link in self.links(self.backend.host_ns) if link.name == name]
        if not found or found[0].kind is not LinkKind.BRIDGE:
            raise Blocked("bridge", f"there is no bridge {name} in the host",
                          ja=f"ホストにブリッジ {name} がありません")
        if not found[0].up:
            raise Blocked("bridge", f"bridge {name} is down", ja=f"ブリッジ {name} が down です")
        held = [a.cidr for a in self.backend.addr_list(self.backend.host_ns, name)]
        if self.gateway_cidr not in held:
            raise Blocked("bridge", f"bridge {name} holds {', '.join(held) or 'no address'}, "
                                    f"not the gateway {self.gateway_cidr}",
                          ja=f"ブリッジ {name} にゲートウェイのアドレス {self.gateway_cidr} が"
                             f"ありません（あるのは {', '.join(held) or 'なし'}）")
        return found[0]

    def require_port(self, attachment: Attachment) -> None:
        """bridge (§2.2, §6.2): the host end is a forwarding port of the bridge (a port that
        is down does not forward either: that is the veth's business, checked first)."""
        self.require_up(attachment)
        self.require_bridge()
        outside = self.host_end(attachment)
        name = self.config.bridge
        if outside.master != name:
            raise Blocked("bridge", f"{attachment.container_id}: host end {outside.name} is "
                                    f"attached to {outside.master or 'no bridge'}, not {name}",
                          ja=f"{attachment.container_id}: ホスト側の端 {outside.name} がブリッジ "
                             f"{name} につながっていません（つながっている先: "
                             f"{outside.master or 'なし'}）")
        if outside.port is not None and outside.port.state is not PortState.FORWARDING:
            state = outside.port.state.name.lower()
            raise Blocked("bridge", f"{attachment.container_id}: port {outside.name} of {name} "
                                    f"is {state}, not forwarding (STP on?)",
                          ja=f"{attachment.container_id}: ブリッジ {name} のポート "
                             f"{outside.name} は {state} で、forwarding ではありません"
                             "（STP が有効？）")

    def require_good_address(self, attachment: Attachment) -> ipaddress.IPv4Interface:
        """ipam (§4.2): an address of the subnet, with its prefix, that is no reserved one."""
        address = self.address(attachment)
        problem = self.address_problem(attachment.container_id, address)
        if problem:
            raise Blocked("ipam", problem, ja=problem.ja)
        return address

    def address_problem(self, container_id: str, address: ipaddress.IPv4Interface) -> Problem:
        """What is wrong with `container_id` holding `address`, or "" (ipam, §4.2)."""
        ip, subnet = address.ip, self.subnet
        who = f"container {container_id} got {ip}"
        who_ja = f"コンテナ {container_id} に {ip} が割り当てられました"
        if ip not in subnet:
            return Problem(f"{who}, outside the subnet {subnet}", f"{who_ja}: サブネット "
                           f"{subnet} の外です")
        if ip == subnet.network_address:
            return Problem(f"{who}, the network address", f"{who_ja}: ネットワークアドレスです")
        if ip == subnet.broadcast_address:
            return Problem(f"{who}, the broadcast address",
                           f"{who_ja}: ブロードキャストアドレスです")
        if str(ip) == self.config.gateway:
            return Problem(f"{who}, the gateway", f"{who_ja}: ゲートウェイのアドレスです")
        if address.network.prefixlen != subnet.prefixlen:
            plen = address.network.prefixlen
            return Problem(f"{who}/{plen}: the subnet is /{subnet.prefixlen}",
                           f"コンテナ {container_id} に {ip}/{plen} が割り当てられました: "
                           f"サブネットは /{subnet.prefixlen} です")
        holder = self.holder_of(str(ip), besides=container_id)
        if holder is not None:
            return Problem(f"{who}, already held by {holder}",
                           f"{who_ja}: すでに {holder} が持っているアドレスです")
        return Problem()

    def default_route_problem(self, attachment: Attachment) -> Problem:
        """What is wrong with the container's default route, or "" (netlink, §5.2)."""
        who = attachment.container_id
        routes = self.backend.route_list(attachment.ns)
        default = [r for r in routes if r.dst in ("default", "0.0.0.0/0")]
        if not default:
            on_host = [r for r in self.backend.route_list(self.backend.host_ns)
                       if r.dst in ("default", "0.0.0.0/0") and r.gateway == self.config.gateway]
            if on_host:  # §1.1: set in the wrong namespace, not forgotten
                raise Blocked("netns", f"{who}'s default route via {self.config.gateway} was "
                                       "set in the host's namespace, not in the container's",
                              ja=f"{who}: ゲートウェイ {self.config.gateway} へのデフォルトルートが"
                                 "コンテナではなくホストの名前空間に設定されています")
            return Problem(f"{who} has no default route",
                           f"{who}: デフォルトルートがありません")
        if default[0].gateway != self.config.gateway:
            via = default[0].gateway or default[0].dev
            return Problem(f"{who}'s default route goes via {via}, "
                           f"not the gateway {self.config.gateway}",
                           f"{who}: デフォルトルートがゲートウェイ {self.config.gateway} では"
                           f"なく {via} を経由しています")
        return Problem()

    def require_default_route(self, attachment: Attachment) -> None:
        problem = self.default_route_problem(attachment)
        if problem:
            raise Blocked("netlink", problem, ja=problem.ja)

    def require_link_layer(self, attachment: Attachment) -> ipaddress.IPv4Interface:
        """Everything a packet from the container to the bridge needs, in the guide's order:
        the interface in the namespace, a veth with both ends up, a port of the bridge that
        holds the gateway, a good address."""
        self.require_up(attachment)
        self.require_port(attachment)
        return self.require_good_address(attachment)

    def require_reaches_gateway(self, attachment: Attachment) -> None:
        """bridge (§2.1): with all of the above, the container gets answers from the gateway."""
        address = self.require_link_layer(attachment)
        reply = self.backend.ping(attachment.ns, self.config.gateway, count=2, timeout=2.0)
        if not reply.received:
            raise Blocked("bridge", f"{attachment.container_id} ({address.ip}) gets no reply "
                                    f"from the gateway {self.config.gateway}",
                          ja=f"{attachment.container_id} ({address.ip}) にゲートウェイ "
                             f"{self.config.gateway} から応答がありません")

    def forwarding_problem(self) -> Problem:
        value = self.backend.sysctl_get(self.backend.host_ns, "net.ipv4.ip_forward")
        return Problem() if value == "1" else Problem(
            f"net.ipv4.ip_forward is {value} in the host: it will not forward",
            f"ホストの net.ipv4.ip_forward が {value} です: パケットを転送しません")

    def masquerade_problem(self) -> Problem:
        rules = self.backend.iptables_save(self.backend.host_ns, table="nat")
        if "-j MASQUERADE" in rules or "-j SNAT" in rules:
            return Problem()
        return Problem(
            "the nat table has no MASQUERADE (or SNAT) rule for the containers' traffic",
            "nat テーブルに、コンテナの通信を IP マスカレードする MASQUERADE (または SNAT) "
            "ルールがありません")

    def require_nat(self) -> None:
        """nat (§3.2): forwarding on and a MASQUERADE rule, before traffic can leave."""
        problem = self.forwarding_problem() or self.masquerade_problem()
        if problem:
            raise Blocked("nat", problem, ja=problem.ja)


def add_quietly(network: CniNetwork, container_id: str) -> Attachment | str:
    """ADD, or the one-line reason it failed."""
    try:
        return network.attach(container_id)
    except PluginFailed as exc:
        return str(exc)
