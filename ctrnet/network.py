"""What a user asks for: networks, endpoints and published ports as validated values.

`NetworkSpec` (a bridge network) and `EndpointSpec` (a container joining it, or the host / none
pseudo-networks) are frozen dataclasses checked before anything is asked of a backend; a wrong
value raises `FieldError` naming the field. `EndpointRecord` is what a connect made, as kept in
the state directory. All of them turn into plain dicts (JSON) and back.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from netaddr import AddrFormatError, IPAddress, IPNetwork

from ctrnet import names
from ctrnet.errors import InvalidConfig
from ctrnet.ipam import PoolConfig
from ctrnet.types import Proto

__all__ = [
    "EndpointRecord",
    "EndpointSpec",
    "FieldError",
    "Mode",
    "NetworkSpec",
    "PortMapping",
    "check_ifname",
]

#: IFNAMSIZ is 16 with the NUL: a link name has at most 15 bytes (dev_valid_name()).
MAX_IFNAME = names.MAX_IFNAME
#: Device MTUs the kernel accepts for veth and bridge (ETH_MIN_MTU, ETH_MAX_MTU).
MIN_MTU, MAX_MTU = 68, 65535
#: tbf rates: TCA_TBF_PARMS carries bytes/s as a u32 (TCA_TBF_RATE64 is not sent); below
#: 1 kB/s the 20 ms bucket (endpoint.tbf_burst) would hold less than a byte.
MIN_RATE_BPS, MAX_RATE_BPS = 8000, 0xFFFFFFFF * 8
#: Names of the pseudo-networks of the host and none modes (as in Docker).
RESERVED_NETWORKS = frozenset({"host", "none"})


class FieldError(InvalidConfig):
    """A configuration value is wrong; `field` names it (the message starts with it)."""

    def __init__(self, field_name: str, message: str, *, ja: str | None = None) -> None:
        super().__init__(f"{field_name}: {message}",
                         ja=None if ja is None else f"{field_name}: {ja}")
        self.field = field_name


class Mode(StrEnum):
    BRIDGE = "bridge"  # veth into the network's bridge, address from IPAM, NAT
    HOST = "host"  # the container shares the host namespace: nothing to build
    NONE = "none"  # only loopback, up


def check_ifname(value: str, field_name: str) -> None:
    """Refuse what the kernel's dev_valid_name() refuses, before asking it (`names`)."""
    try:
        names.check(names.Kind.IFNAME, value)
    except names.InvalidName as exc:
        raise FieldError(field_name, str(exc), ja=exc.in_lang("ja")) from exc


def check_name(value: str, field_name: str, kind: names.Kind = names.Kind.NETWORK) -> None:
    """The name rule of `kind` (`ctrnet.names`), reported against `field_name`."""
    try:
        names.check(kind, value)
    except names.InvalidName as exc:
        raise FieldError(field_name, str(exc), ja=exc.in_lang("ja")) from exc


def _ipv4(value: str, field_name: str) -> IPAddress:
    try:
        address = IPAddress(value)
    except (AddrFormatError, ValueError, TypeError) as exc:
        raise FieldError(field_name, f"{value!r} is not an IPv4 address",
                         ja=f"{value!r} は IPv4 アドレスではありません") from exc
    if address.version != 4:
        raise FieldError(field_name, f"{value!r} is not an IPv4 address",
                         ja=f"{value!r} は IPv4 アドレスではありません")
    return address


@dataclass(frozen=True)
class PortMapping:
    """`[host_ip:]host_port:container_port[/tcp|udp]` (Docker's -p syntax)."""

    host_port: int
    container_port: int
    proto: Proto = Proto.TCP
    host_ip: str | None = None

    def __post_init__(self) -> None:
        for name, port in (("host_port", self.host_port), ("container_port", self.container_port)):
            if not isinstance(port, int) or not 1 <= port <= 65535:
                raise FieldError(f"ports.{name}", f"{port!r} is out of range 1-65535",
                                 ja=f"{port!r} は範囲 1-65535 の外です")
        if self.host_ip is not None:
            _ipv4(self.host_ip, "ports.host_ip")

    @classmethod
    def parse(cls, text: str) -> PortMapping:
        spec, slash, proto = text.partition("/")
        if slash and not proto:
            raise FieldError("ports", f"{text!r}: the protocol after '/' is empty",
                             ja=f"{text!r}: '/' の後のプロトコルが空です")
        try:
            protocol = Proto(proto or "tcp")
        except ValueError:
            raise FieldError("ports", f"{text!r}: protocol must be tcp or udp",
                             ja=f"{text!r}: プロトコルは tcp か udp です") from None
        parts = spec.rsplit(":", 2)
        if len(parts) < 2:
            raise FieldError("ports", f"{text!r} is not [HOST_IP:]HOST_PORT:CONTAINER_PORT",
                             ja=f"{text!r} は [HOST_IP:]HOST_PORT:CONTAINER_PORT の形では"
                                "ありません")
        host_ip = parts[0] if len(parts) == 3 else None
        try:
            host_port, container_port = int(parts[-2]), int(parts[-1])
        except ValueError:
            raise FieldError("ports", f"{text!r}: ports must be numbers",
                             ja=f"{text!r}: ポートは数値で書きます") from None
        return cls(host_port, container_port, protocol, host_ip or None)

    def clashes(self, other: PortMapping) -> bool:
        """Both would catch the same packets: same proto and host port, addresses overlap."""
        same_ip = self.host_ip is None or other.host_ip is None or self.host_ip == other.host_ip
        return self.proto == other.proto and self.host_port == other.host_port and same_ip

    def __str__(self) -> str:
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"{where}{self.host_port}:{self.container_port}/{self.proto}"


@dataclass(frozen=True)
class NetworkSpec:
    """A bridge network: its bridge in the host namespace, subnet, gateway and policies."""

    name: str
    subnet: str
    bridge: str = ""  # default: "br-" + name, when that fits
    gateway: str = ""  # default: the first usable address
    mtu: int = 1500
    masquerade: bool = True  # -s SUBNET ! -o BRIDGE -j MASQUERADE
    icc: bool = True  # inter-container communication on the same bridge
    antispoof: bool = True  # drop frames/packets whose source MAC/IP is not the endpoint's
    dns: tuple[str, ...] = ()  # nameservers written to each endpoint's resolv.conf

    def __post_init__(self) -> None:
        check_name(self.name, "name")
        if self.name in RESERVED_NETWORKS:
            raise FieldError("name", f"{self.name!r} is reserved for the {self.name} mode",
                             ja=f"{self.name!r} は {self.name} モード用に予約されています")
        bridge = self.bridge or f"br-{self.name}"
        if not self.bridge and len(bridge) > MAX_IFNAME:
            raise FieldError("bridge", f"{bridge!r} (from the name) is too long; give one",
                             ja=f"{bridge!r}（名前から作ったもの）が長すぎます。--bridge で"
                                "指定してください")
        check_name(bridge, "bridge", names.Kind.BRIDGE)
        object.__setattr__(self, "bridge", bridge)
        try:
            pool = PoolConfig.create(self.name, self.subnet, gateway=self.gateway or None)
        except InvalidConfig as exc:
            what = "gateway" if self.gateway and "gateway" in str(exc) else "subnet"
            raise FieldError(what, str(exc), ja=exc.in_lang("ja")) from exc
        object.__setattr__(self, "subnet", str(pool.subnet))
        object.__setattr__(self, "gateway", str(pool.gateway))
        # veth and bridge devices take min_mtu 68 (ETH_MIN_MTU, also IPv4's minimum, RFC 791)
        # to max_mtu 65535 (ETH_MAX_MTU): `ip -d link` shows both, and the kernel refuses
        # anything outside ("mtu greater than device maximum").
        if not isinstance(self.mtu, int) or not MIN_MTU <= self.mtu <= MAX_MTU:
            raise FieldError("mtu", f"{self.mtu!r} is out of range {MIN_MTU}-{MAX_MTU} "
                                    "(the veth and bridge devices' min_mtu and max_mtu)",
                             ja=f"{self.mtu!r} は範囲 {MIN_MTU}-{MAX_MTU} の外です（veth と"
                                "ブリッジのデバイスの min_mtu と max_mtu）")
        for server in self.dns:
            _ipv4(server, "dns")
        object.__setattr__(self, "dns", tuple(self.dns))

    @property
    def pool(self) -> PoolConfig:
        return PoolConfig.create(self.name, self.subnet, gateway=self.gateway)

    @property
    def prefixlen(self) -> int:
        return IPNetwork(self.subnet).prefixlen

    def overlaps(self, other: NetworkSpec) -> bool:
        return self.pool.overlaps(other.pool)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dns"] = list(self.dns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "dns" in known:
            known["dns"] = tuple(known["dns"])
        return cls(**known)


@dataclass(frozen=True)
class EndpointSpec:
    """A container joining `network` ("host" and "none" pick those modes)."""

    container: str  # the container's namespace, made by the caller
    network: str
    ifname: str = "eth0"
    ports: tuple[PortMapping, ...] = ()
    ingress_bps: int | None = None  # tbf on the host-side veth: what the container receives
    egress_bps: int | None = None  # tbf on the container's interface: what it sends
    dns: tuple[str, ...] = ()  # overrides the network's nameservers
    ip: str | None = None  # a requested address

    def __post_init__(self) -> None:
        check_name(self.container, "container", names.Kind.CONTAINER)
        if self.network not in RESERVED_NETWORKS:
            check_name(self.network, "network")
        check_ifname(self.ifname, "ifname")
        object.__setattr__(self, "ports", tuple(self.ports))
        object.__setattr__(self, "dns", tuple(self.dns))
        for i, port in enumerate(self.ports):
            for other in self.ports[:i]:
                if port.clashes(other):
                    raise FieldError("ports", f"host port {port} is published twice",
                                     ja=f"ホストのポート {port} が 2 回公開されています")
        for name in ("ingress_bps", "egress_bps"):
            rate = getattr(self, name)
            if rate is not None and (not isinstance(rate, int)
                                     or not MIN_RATE_BPS <= rate <= MAX_RATE_BPS):
                raise FieldError(name, f"{rate!r} is out of range {MIN_RATE_BPS}-"
                                       f"{MAX_RATE_BPS} bit/s",
                                 ja=f"{rate!r} は範囲 {MIN_RATE_BPS}-{MAX_RATE_BPS} bit/s "
                                    "の外です")
        for server in self.dns:
            _ipv4(server, "dns")
        if self.ip is not None:
            _ipv4(self.ip, "ip")
        if self.mode is not Mode.BRIDGE and (self.ports or self.ip or self.ingress_bps
                                             or self.egress_bps):
            raise FieldError("network", f"mode {self.mode} takes no ports, address or rates",
                             ja=f"{self.mode} モードではポート・アドレス・帯域は"
                                "指定できません")

    @property
    def mode(self) -> Mode:
        return Mode(self.network) if self.network in RESERVED_NETWORKS else Mode.BRIDGE


def mac_for(ip: str) -> str:
    """A locally administered MAC derived from the address (Docker's 02:42:<ip> scheme): the
    anti-spoofing rule can be written before the link exists, and it never changes."""
    octets = IPAddress(ip).words
    return "02:42:" + ":".join(f"{o:02x}" for o in octets)


def host_ifname(network: str, container: str) -> str:
    """The host-side veth name: stable (gc and a retried delete find it) and ≤ 15 bytes."""
    digest = hashlib.sha1(f"{network}/{container}".encode()).hexdigest()
    return f"vc{digest[:11]}"


@dataclass(frozen=True)
class EndpointRecord:
    """What a connect made. `active` turns True in the connect's last step (its rules)."""

    container: str
    network: str
    mode: Mode
    ifname: str = ""
    host_ifname: str = ""
    ip: str = ""
    prefixlen: int = 0
    gateway: str = ""
    mac: str = ""
    ports: tuple[PortMapping, ...] = ()
    ingress_bps: int | None = None
    egress_bps: int | None = None
    dns: tuple[str, ...] = ()
    default_route: bool = False  # we added the default route (a first network does)
    lo_was_up: bool = True  # loopback was up before: leave it up on disconnect
    active: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.network, self.container)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = str(self.mode)
        data["ports"] = [str(p) for p in self.ports]
        data["dns"] = list(self.dns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EndpointRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["mode"] = Mode(known["mode"])
        known["ports"] = tuple(PortMapping.parse(p) for p in known.get("ports", ()))
        known["dns"] = tuple(known.get("dns", ()))
        return cls(**known)
