"""`ctrnet topology`: a picture of the world: namespaces, their devices and addresses, veth
pairs, bridges and their ports, and the ports published with DNAT. `collect` reads it from
a backend; `text` draws a tree for the terminal, `dot` a Graphviz graph, `svg` runs Graphviz
on it when it is installed.
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError, from_errno
from ctrnet.i18n import say
from ctrnet.network import EndpointRecord, Mode
from ctrnet.troubleshoot.rulescan import scan
from ctrnet.types import Link, LinkKind


@dataclass(frozen=True)
class Device:
    ns: str
    name: str
    kind: str
    up: bool
    addresses: tuple[str, ...] = ()
    master: str | None = None
    peer: tuple[str, str] | None = None  # (namespace, name) of a veth's other end
    stp: bool = False
    port_state: str | None = None


@dataclass(frozen=True)
class Published:
    """A DNAT rule of the host: `proto` port `port` goes to `to`."""

    proto: str
    port: str
    to: str
    ns: str


@dataclass(frozen=True)
class Member:
    """A container ctrnet connected, and the namespace it lives in: its own (bridge and
    none modes), or the host's (host mode, which shares the host's network)."""

    container: str
    network: str
    mode: str
    ns: str


@dataclass
class Topology:
    namespaces: dict[str, list[Device]] = field(default_factory=dict)
    published: list[Published] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)

    def members_of(self, ns: str) -> list[Member]:
        return [m for m in self.members if m.ns == ns]

    def device(self, ns: str, name: str) -> Device | None:
        return next((d for d in self.namespaces.get(ns, []) if d.name == name), None)


def _device(link: Link, addresses: tuple[str, ...]) -> Device:
    peer = (link.peer_ns or link.ns, link.peer) if link.peer is not None else None
    return Device(link.ns, link.name, link.kind.value, link.up, addresses, link.master, peer,
                  bool(link.bridge and link.bridge.stp_state),
                  link.port.state.name if link.port is not None else None)


def collect(backend: Backend, records: Iterable[EndpointRecord] = ()) -> Topology:
    """Everything the backend shows, namespace by namespace (the host first), and the
    containers of ctrnet's `records` with the namespace each lives in."""
    topo = Topology()
    for record in records:
        ns = backend.host_ns if record.mode is Mode.HOST else record.container
        topo.members.append(Member(record.container, record.network, str(record.mode), ns))
    for ns in [backend.host_ns, *backend.netns_list()]:
        addrs: dict[str, list[str]] = {}
        for addr in backend.addr_list(ns):
            addrs.setdefault(addr.ifname, []).append(addr.cidr)
        topo.namespaces[ns] = [_device(lk, tuple(addrs.get(lk.name, ())))
                               for lk in backend.link_list(ns)]
    try:
        nat = scan(backend.iptables_save(backend.host_ns, table="nat"))
    except CtrnetError:
        nat = scan("")
    for rule in nat.reachable("PREROUTING"):
        if rule.target == "DNAT" and rule.option("--to-destination"):
            topo.published.append(Published(rule.option("-p") or "all",
                                            rule.option("--dport") or "*",
                                            rule.option("--to-destination") or "",
                                            backend.host_ns))
    return topo


# -- text ------------------------------------------------------------------------------------
def _label(dev: Device, *, show_peer: bool = True) -> str:
    state = "up" if dev.up else "DOWN"
    parts = [f"{dev.name} ({dev.kind}, {state})"]
    if dev.stp:
        parts.append("STP on")
    if dev.port_state is not None and dev.port_state != "FORWARDING":
        parts.append(f"port {dev.port_state}")
    parts += list(dev.addresses)
    if show_peer and dev.peer is not None:
        parts.append(f"<-> {dev.peer[0]}/{dev.peer[1]}")
    return " ".join(parts)


def text(topo: Topology) -> str:
    """A tree: namespace, then its devices, a bridge's ports under it."""
    lines: list[str] = []
    for ns, devices in topo.namespaces.items():
        lines.append(ns + _members_note(topo, ns))
        tops = [d for d in devices if d.master is None]
        for i, dev in enumerate(tops):
            last = i == len(tops) - 1
            lines.append(("└── " if last else "├── ") + _label(dev))
            ports = [d for d in devices if d.master == dev.name]
            for j, port in enumerate(ports):
                lead = "    " if last else "│   "
                lines.append(lead + ("└── " if j == len(ports) - 1 else "├── ") + _label(port))
        for pub in topo.published:
            if pub.ns == ns:
                lines.append(say(f"    published: {pub.proto} {pub.port} -> {pub.to}",
                                 f"    公開: {pub.proto} {pub.port} -> {pub.to}"))
    return "\n".join(lines)


def _members_note(topo: Topology, ns: str) -> str:
    notes = []
    for m in topo.members_of(ns):
        if m.mode == Mode.HOST.value:
            notes.append(say(f"{m.container}: host mode, shares this namespace",
                             f"{m.container}: host モード、この名前空間を共有"))
        elif m.mode == Mode.NONE.value:
            notes.append(say(f"{m.container}: none mode, loopback only",
                             f"{m.container}: none モード、ループバックのみ"))
    return f"  ({'; '.join(notes)})" if notes else ""


def as_dict(topo: Topology) -> dict[str, Any]:
    """The topology as JSON-able data: namespaces with their devices, published ports, and
    the containers ctrnet connected with the namespace each lives in."""
    return {"namespaces": [{"name": ns, "devices": [asdict(d) for d in devices]}
                           for ns, devices in topo.namespaces.items()],
            "published": [asdict(p) for p in topo.published],
            "containers": [asdict(m) for m in topo.members]}


# -- Graphviz --------------------------------------------------------------------------------
def _id(ns: str, name: str) -> str:
    return '"' + re.sub(r'["\\]', "_", f"{ns}/{name}") + '"'


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def dot(topo: Topology) -> str:
    """A Graphviz graph: a box per namespace, a node per device (lo left out while it is
    down and has no address), bridge ports tied to their bridge, veth pairs dashed."""
    out = ["graph ctrnet {", '  rankdir=LR; node [shape=box, fontname="Helvetica"];',
           '  edge [fontname="Helvetica", fontsize=10];']
    shown: set[tuple[str, str]] = set()
    for index, (ns, devices) in enumerate(topo.namespaces.items()):
        out.append(f"  subgraph cluster_{index} {{")
        out.append(f'    label="{_escape(ns + _members_note(topo, ns))}"; style=rounded; '
                   "color=gray40;")
        # Graphviz leaves out an empty cluster: a namespace with nothing else to show (none
        # mode: loopback up, no address of note) still gets a node, so that it is drawn.
        if all(d.kind == LinkKind.LOOPBACK.value and d.up for d in devices):
            out.append(f'    {_id(ns, "(lo)")} [label="lo", shape=plaintext];')
        for dev in devices:
            if dev.kind == LinkKind.LOOPBACK.value and dev.up:  # shown only when a problem
                continue
            shown.add((ns, dev.name))
            label = "\\n".join([_escape(_label(dev, show_peer=False).split(" ")[0]),
                                f"{dev.kind}{'' if dev.up else ' DOWN'}",
                                *map(_escape, dev.addresses)])
            shape = "component" if dev.kind == LinkKind.BRIDGE.value else "box"
            color = "black" if dev.up else "red"
            out.append(f'    {_id(ns, dev.name)} [label="{label}", shape={shape}, '
                       f"color={color}];")
        for pub in topo.published:
            if pub.ns == ns:
                pid = _id(ns, f"published {pub.proto} {pub.port}")
                out.append(f'    {pid} [label="{_escape(pub.proto)} :{_escape(pub.port)}", '
                           "shape=cds];")
        out.append("  }")
    done: set[frozenset[tuple[str, str]]] = set()
    for ns, devices in topo.namespaces.items():
        for dev in devices:
            if dev.master is not None:
                out.append(f"  {_id(ns, dev.name)} -- {_id(ns, dev.master)} [penwidth=2];")
            if dev.peer is not None and dev.peer in shown:
                pair = frozenset({(ns, dev.name), dev.peer})
                if pair not in done:
                    done.add(pair)
                    out.append(f"  {_id(ns, dev.name)} -- {_id(*dev.peer)} "
                               '[style=dashed, label="veth"];')
    for pub in topo.published:
        target = _holder_of(topo, pub.to.split(":")[0])
        if target is not None:
            out.append(f"  {_id(pub.ns, f'published {pub.proto} {pub.port}')} -- "
                       f'{_id(*target)} [style=dotted, label="DNAT {_escape(pub.to)}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _holder_of(topo: Topology, ip: str) -> tuple[str, str] | None:
    for ns, devices in topo.namespaces.items():
        for dev in devices:
            if any(cidr.split("/")[0] == ip for cidr in dev.addresses):
                return ns, dev.name
    return None


def svg(dot_text: str) -> bytes:
    """Run Graphviz `dot -Tsvg`; EOPNOTSUPP with the package to install when it is missing."""
    if shutil.which("dot") is None:
        raise from_errno(errno.EOPNOTSUPP, "rendering SVG needs Graphviz: apt-get install graphviz "
                         "(or use --format dot / text)",
                         ja="SVG の描画には Graphviz が必要です: apt-get install graphviz"
                            "（または --format dot / text を使う）")
    done = subprocess.run(["dot", "-Tsvg"], input=dot_text.encode(), capture_output=True,
                          check=False, timeout=60)
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()
        raise from_errno(errno.EINVAL, f"dot failed: {detail}",
                         ja=f"dot が失敗しました: {detail}")
    return done.stdout
