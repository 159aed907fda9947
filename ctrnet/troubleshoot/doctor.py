"""`ctrnet doctor`: the usual reasons a container network does not work, found from what a
backend shows (links, addresses, routes, sysctls, iptables-save, /etc/netns files), each
with a plain explanation and the command that fixes it. Works on either backend, with the
networks ctrnet keeps in its state or, without them, on what it discovers: every bridge of
the host namespace and every namespace whose veth reaches the host.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from ctrnet.backend import LAUNCH_IN_NAMESPACE, Backend
from ctrnet.errors import CtrnetError
from ctrnet.i18n import say
from ctrnet.troubleshoot.rulescan import Ruleset, scan
from ctrnet.types import Link, LinkKind, PortState


class Severity(StrEnum):
    ERROR = "error"  # traffic that should flow does not
    WARNING = "warning"  # something works less than expected, or not yet


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, where, what it means and how to fix it."""

    check: str
    severity: Severity
    where: str
    problem: str
    fix: str

    def render(self) -> str:
        mark = "x" if self.severity is Severity.ERROR else "!"
        return f"[{mark}] {self.where}: {self.problem}\n      {say('fix', '対処')}: {self.fix}"


@dataclass(frozen=True)
class Container:
    """A container's end of a network: its namespace, interface and the host-side veth."""

    ns: str
    ifname: str
    host_ifname: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class Net:
    """A bridge network as the doctor checks it."""

    name: str
    bridge: str
    subnet: str | None
    gateway: str | None
    masquerade: bool | None = None  # None: not known (discovered, not from state)
    containers: tuple[Container, ...] = ()
    icc: bool | None = None  # traffic between its containers allowed (None: not known)


@dataclass
class Report:
    """What the doctor checked and found."""

    scope: str
    checks: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings

    def named(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def render(self) -> str:
        head = f"ctrnet doctor: {self.scope}: " + say(f"{len(self.checks)} checks",
                                                       f"{len(self.checks)} 項目を確認")
        if self.healthy:
            return head + say(", no problems found", "、問題は見つかりませんでした")
        lines = [head + say(f", {len(self.findings)} problem(s)",
                            f"、問題 {len(self.findings)} 件")]
        lines += [finding.render() for finding in self.findings]
        return "\n".join(lines)


def in_ns(host_ns: str, ns: str, command: str,
          real: Callable[[str], str] | None = None) -> str:
    """`command` as typed in namespace `ns` from the shell the user works in. On the
    simulator that shell is in the host namespace (`ctrnet sim shell`); on the kernel the
    backend's "host" is itself a namespace (named by `real`, with the world's prefix), so
    every command, the host's too, names the real namespace it acts in."""
    if real is None and ns == host_ns:
        return command
    name = real(ns) if real is not None else ns
    if command.startswith("ip "):
        return f"ip -n {name} {command[3:]}"
    return f"ip netns exec {name} {command}"


# -- discovery -----------------------------------------------------------------------------
def discover(backend: Backend, only: str | None = None) -> list[Net]:
    """Networks as the backend shows them: each bridge of the host namespace with its first
    address, and the namespaces whose veth peer is enslaved to it (or to nothing)."""
    host = backend.host_ns
    links = backend.link_list(host)
    nets: list[Net] = []
    for bridge in (lk for lk in links if lk.kind is LinkKind.BRIDGE):
        if only is not None and bridge.name != only:
            continue
        addrs = backend.addr_list(host, bridge.name)
        subnet = gateway = None
        if addrs:
            iface = ipaddress.IPv4Interface(addrs[0].cidr)
            subnet, gateway = str(iface.network), str(iface.ip)
        containers = tuple(
            Container(lk.peer_ns, lk.peer, lk.name) for lk in links
            if lk.kind is LinkKind.VETH and lk.peer_ns not in (None, host)
            and lk.peer is not None and (lk.master == bridge.name or (
                lk.master is None and _on_subnet(backend, lk.peer_ns, lk.peer, subnet))))
        nets.append(Net(bridge.name, bridge.name, subnet, gateway, None, containers))
    return nets


def _on_subnet(backend: Backend, ns: str, ifname: str, subnet: str | None) -> bool:
    """Whether `ifname` in `ns` has an address in `subnet`: a container meant for that
    bridge whose host end was never enslaved (or was released) still belongs to it."""
    if subnet is None:
        return False
    network = ipaddress.IPv4Network(subnet)
    try:
        return any(ipaddress.IPv4Address(a.ip) in network
                   for a in backend.addr_list(ns, ifname))
    except CtrnetError:
        return False


def stranded(backend: Backend, known: Iterable[str] = ()) -> list[Container]:
    """Namespaces (other than `known`) holding both ends of a veth pair: the host end was
    moved in with the container's, or never moved out, so the container is on no bridge and
    discovery by bridge cannot find it. The end with an address is the container's."""
    skip = set(known) | {backend.host_ns}
    found: list[Container] = []
    for ns in backend.netns_list():
        if ns in skip:
            continue
        try:
            links = backend.link_list(ns)
            addressed = {a.ifname for a in backend.addr_list(ns)}
        except CtrnetError:
            continue
        seen: set[str] = set()
        for lk in links:
            if lk.kind is not LinkKind.VETH or lk.peer_ns != ns or lk.peer is None \
                    or lk.name in seen:
                continue
            seen |= {lk.name, lk.peer}
            mine = lk.peer if lk.peer in addressed and lk.name not in addressed else lk.name
            found.append(Container(ns, mine))
    return found


# -- the checks ----------------------------------------------------------------------------
class Doctor:
    """Runs every check over `nets`; `containers` adds namespaces checked on their own."""

    def __init__(self, backend: Backend, nets: Iterable[Net], scope: str = "all networks",
                 extra_containers: Iterable[Container] = ()) -> None:
        self.backend = backend
        self.host = backend.host_ns
        self.nets = list(nets)
        self.extra = list(extra_containers)
        self.report = Report(scope)
        self._links: dict[str, list[Link]] = {}
        #: How the user's shell names a namespace, when that is not its logical name: the
        #: machine's namespaces (the kernel's carry a world prefix) are named by their path.
        self.real: Callable[[str], str] | None = (
            self._real_name if LAUNCH_IN_NAMESPACE in backend.capabilities else None)

    def _real_name(self, ns: str) -> str:
        return os.path.basename(self.backend.netns_path(ns))

    def ns_name(self, ns: str) -> str:
        """How a command typed by the user names namespace `ns`."""
        return self.real(ns) if self.real is not None else ns

    def netns_target(self, ns: str) -> str:
        """What `ip link set DEV netns X` takes to move a device into `ns`. The simulator's
        host namespace, like a machine's root namespace, has no name: it is init's (PID 1)."""
        return "1" if self.real is None and ns == self.host else self.ns_name(ns)

    def cmd(self, ns: str, command: str) -> str:
        """`command` as the user types it to act in namespace `ns`."""
        return in_ns(self.host, ns, command, self.real)

    def links(self, ns: str) -> list[Link]:
        if ns not in self._links:
            try:
                self._links[ns] = self.backend.link_list(ns)
            except CtrnetError:
                self._links[ns] = []
        return self._links[ns]

    def link(self, ns: str, name: str) -> Link | None:
        return next((lk for lk in self.links(ns) if lk.name == name), None)

    def find(self, check: str, severity: Severity, where: str, problem: str,
             fix: str) -> None:
        self.report.findings.append(Finding(check, severity, where, problem, fix))

    def sysctl(self, ns: str, key: str, default: str = "0") -> str:
        try:
            return self.backend.sysctl_get(ns, key).strip()
        except CtrnetError:
            return default

    def run(self, checks: Iterable[Callable[[Doctor], None]]) -> Report:
        """Run `checks` (`ctrnet.troubleshoot.checks.ALL`, which build on this module) in
        order; each files its findings in the report."""
        for check in checks:
            self.report.checks.append(check.__name__.removeprefix("check_"))
            check(self)
        return self.report

    def containers(self) -> list[tuple[Net | None, Container]]:
        found: list[tuple[Net | None, Container]] = [
            (net, c) for net in self.nets for c in net.containers]
        found += [(None, c) for c in self.extra
                  if all(c.ns != other.ns for _, other in found)]
        return found

    def rules(self, table: str) -> Ruleset:
        try:
            return scan(self.backend.iptables_save(self.host, table=table))
        except CtrnetError:
            return scan("")

    def uplink(self) -> str | None:
        """The host's way out: the device of its default route, if it has one."""
        try:
            return next((r.dev for r in self.backend.route_list(self.host)
                         if r.dst == "default" and r.dev), None)
        except CtrnetError:
            return None

    def host_resolv_conf(self) -> str | None:
        """The resolv.conf a container without its own falls back to: the host namespace's
        (/etc/netns/HOST/resolv.conf), else on the kernel the machine's /etc/resolv.conf,
        which `ip netns exec` leaves in place."""
        kept, text = self.etc_file(self.host, "resolv.conf")
        if text is not None or LAUNCH_IN_NAMESPACE not in self.backend.capabilities:
            return text
        try:
            with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return None

    def etc_file(self, ns: str, filename: str) -> tuple[bool, str | None]:
        """(whether the backend keeps /etc/netns files, the file's text or None)."""
        try:
            text = self.backend.etc_read(ns, filename)
        except CtrnetError:
            return False, None
        return True, None if text is None else str(text)


def port_forwarding(link: Link) -> bool:
    return link.port is None or link.port.state is PortState.FORWARDING
