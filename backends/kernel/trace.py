"""Packet traces on the kernel, from its own TRACE facility.

For one probe, every namespace of the world gets `-t raw -I PREROUTING/OUTPUT 1 -p PROTO
-j TRACE` (and ICMP, for the errors a TCP/UDP probe may get back) and an `xtables-monitor
--trace` listening in it (iptables-nft reports traces over nfnetlink, per namespace); the
rules are removed afterwards whatever happens. The kernel traces each skb anew in every
namespace it enters (skb_scrub_packet clears nf_trace), so events come per namespace: the
first packet seen there is the request, the first from another source its reply. The
namespaces are put in path order by walking the veth links from the sender.
"""

from __future__ import annotations

import errno
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ctrnet.errors import CtrnetError, from_errno
from ctrnet.troubleshoot.trace import Direction, Hop, PacketTrace, Step, run_probe

from . import tools

if TYPE_CHECKING:
    from ctrnet.backend import Backend
    from ctrnet.types import ConntrackEntry, RouteDecision

    from .spaces import Space

#: NFNLGRP_NFTRACE (include/uapi/linux/netfilter/nfnetlink.h): the group traces go to.
_NFTRACE_GROUP_BIT = 1 << (9 - 1)
_NETLINK_NETFILTER = 12
_READY_TIMEOUT = 5.0
#: After its queue is empty, a monitor is stopped once it has printed nothing for this long
#: (it looks each rule up before printing the event's line).
_QUIET = 0.2
_PACKET = re.compile(r"^PACKET: \d+ ([0-9a-f]+) (.*)$")
_TRACE = re.compile(r"^\s*TRACE: \d+ ([0-9a-f]+) (\w+):([^:]+):(rule|policy|return):?(.*)$")
_TERMINAL = {"ACCEPT", "DROP", "QUEUE", "STOLEN"}


@dataclass
class _Packet:
    """One skb as a namespace's trace saw it: its fields after each chain, and the events."""

    first: dict[str, str]
    fields: list[dict[str, str]] = field(default_factory=list)
    events: list[tuple[str, str, str, str]] = field(default_factory=list)


class _Monitor:
    """`xtables-monitor --trace` running in one namespace, its output read by a thread."""

    def __init__(self, real_ns: str, ns: str) -> None:
        self.ns = ns
        self.lines: list[str] = []
        argv = ["ip", "netns", "exec", real_ns, "stdbuf", "-oL", "xtables-monitor", "--trace"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env={"LC_ALL": "C",
                                                     "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _socket(self) -> tuple[int, int] | None:
        """(groups, rmem) of the monitor's nfnetlink socket, from its /proc net/netlink."""
        try:
            with open(f"/proc/{self.proc.pid}/net/netlink") as table:
                rows = table.read().splitlines()[1:]
        except OSError:
            return None
        for row in rows:
            cols = row.split()
            if len(cols) >= 5 and cols[1] == str(_NETLINK_NETFILTER) \
                    and int(cols[3], 16) & _NFTRACE_GROUP_BIT:
                return int(cols[3], 16), int(cols[4])
        return None

    def wait_ready(self, deadline: float) -> None:
        # Ready once its socket has joined the trace group: events from then on reach it.
        while self._socket() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise from_errno(errno.EIO, f"xtables-monitor --trace did not start in {self.ns}")
            time.sleep(0.01)

    def stop(self, deadline: float) -> None:
        # Everything the kernel queued is read once the socket's receive queue is empty;
        # then the monitor finishes printing what it read.
        while True:
            sock = self._socket()
            if sock is None or sock[1] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        quiet_since, seen = time.monotonic(), len(self.lines)
        while time.monotonic() - quiet_since < _QUIET and time.monotonic() < deadline:
            time.sleep(0.01)
            if len(self.lines) != seen:
                quiet_since, seen = time.monotonic(), len(self.lines)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


def _fields(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        found[key] = value if sep else "1"
    return found


def parse(lines: list[str]) -> list[_Packet]:
    """The packets of one monitor's output, in the order first seen."""
    packets: dict[str, _Packet] = {}
    last: _Packet | None = None
    for line in lines:
        if (m := _PACKET.match(line)) is not None:
            info = _fields(m.group(2))
            packet = packets.get(m.group(1))
            if packet is None:
                # The trace id hashes the skb: forwarding can hand the same packet on in
                # another skb. Same IP id and length right after: the same packet.
                if last is not None and _same(last.fields[-1], info):
                    packet = last
                else:
                    packet = _Packet(info)
                packets[m.group(1)] = packet
            packet.fields.append(info)
            last = packet
        elif (m := _TRACE.match(line)) is not None and m.group(1) in packets:
            table, chain, kind, rest = m.group(2), m.group(3), m.group(4), m.group(5)
            packets[m.group(1)].events.append((table, chain, kind, rest.strip()))
    unique: list[_Packet] = []
    for packet in packets.values():
        if all(packet is not other for other in unique):
            unique.append(packet)
    return unique


def _same(before: dict[str, str], after: dict[str, str]) -> bool:
    if before.get("ID") != after.get("ID") or before.get("LEN") != after.get("LEN"):
        return False
    return before.get("ID") != "0" or all(
        before.get(k) == after.get(k) for k in ("SRC", "DST", "SPORT", "DPORT"))


def _rule_number(saved: str, table: str, chain: str, text: str) -> int | None:
    """The position of the rule `text` ("-4 -t filter -A INPUT …") in `chain` of `saved`."""
    wanted = re.sub(r"^-4 (-t \S+ )?", "", text.strip())
    section = False
    number = 0
    for line in saved.splitlines():
        if line.startswith("*"):
            section = line[1:] == table
        elif section and line.startswith(f"-A {chain} "):
            number += 1
            if line.strip() == wanted:
                return number
    return None


_HANDLE = re.compile(r"# handle (\d+)\s*$")


def handles(listing: str) -> dict[tuple[str, str], list[int]]:
    """Rule handles of each (table, chain), in rule order, from `nft -a list ruleset`."""
    found: dict[tuple[str, str], list[int]] = {}
    table = chain = ""
    for line in listing.splitlines():
        words = line.split()
        if words[:1] == ["table"] and len(words) >= 3:
            table = words[2]
        elif words[:1] == ["chain"] and len(words) >= 2:
            chain = words[1]
            found.setdefault((table, chain), [])
        elif (m := _HANDLE.search(line)) is not None and chain:
            found[(table, chain)].append(int(m.group(1)))
    return found


def _describe(info: dict[str, str]) -> str:
    """"SRC > DST len N" from a monitor line, with only the fields it has: a line without
    IP addresses (an ARP or bridge-family packet) names its MACs, or nothing."""
    src, dst = info.get("SRC"), info.get("DST")
    if src is not None and dst is not None:
        if "SPORT" in info and "DPORT" in info:
            src, dst = f"{src}:{info['SPORT']}", f"{dst}:{info['DPORT']}"
        text = f"{src} > {dst}"
        flags = [f for f in ("SYN", "ACK", "FIN", "RST", "PSH") if f in info]
        text += f" [{' '.join(flags)}]" if flags else ""
    elif "MACSRC" in info and "MACDST" in info:
        text = f"{info['MACSRC']} > {info['MACDST']}"
    else:
        text = info.get("PROTO", "packet").lower()
    return f"{text} len {info['LEN']}" if "LEN" in info else text


def packet_hops(ns: str, packet: _Packet, direction: Direction, saved: str,
                rule_handles: dict[tuple[str, str], list[int]] | None = None) -> list[Hop]:
    """Hops of one packet in one namespace: in or out, each table's verdict, NAT."""
    first = packet.first
    hops = []
    if "IN" in first:
        hops.append(Hop(direction, ns, Step.RECEIVE, _describe(first), first["IN"]))
    else:
        hops.append(Hop(direction, ns, Step.SEND, _describe(first), first.get("OUT")))
    previous = first
    for info in packet.fields[1:]:
        keys = ("SRC", "DST", "SPORT", "DPORT")
        # A line of the bridge family (MACs, no addresses) next to an IP one is the same
        # packet seen by another hook, not a rewrite: compare IP lines with IP lines only.
        if "SRC" not in info:
            continue
        if "SRC" in previous and any(info.get(k) != previous.get(k) for k in keys):
            hops.append(Hop(direction, ns, Step.NAT,
                            f"{_describe(previous)} -> {_describe(info)}"))
        previous = info
    for table, chain, kind, rest in packet.events:
        head, _, rule_text = rest.partition("  ")
        # "rule:0x2:ACCEPT  -4 -t filter -A INPUT …" / "rule:0x5:JUMP:DOCKER  …" / "policy:DROP"
        verdict = head.partition(":")[2] if kind == "rule" else head
        if kind == "return" or (kind == "rule" and verdict not in _TERMINAL):
            continue  # CONTINUE, JUMP, GOTO, RETURN: the traversal goes on
        if table == "raw" and kind == "policy" and verdict == "ACCEPT":
            continue  # our TRACE rule's chain
        number = None
        if kind == "rule":
            number = _rule_number(saved, table, chain, rule_text)
            handle = head.partition(":")[0]
            order = (rule_handles or {}).get((table, chain), [])
            if number is None and handle.startswith("0x") and int(handle, 16) in order:
                # The monitor printed no rule text (or another spelling): count by handle.
                number = order.index(int(handle, 16)) + 1
        which = f"rule {number}" if number is not None else "a rule"
        detail = (f"{table}:{chain} {which} matched: {verdict}" if kind == "rule"
                  else f"{table}:{chain} policy {verdict}")
        if kind == "rule":
            detail += f" ({rule_text.strip()})"
        hops.append(Hop(direction, ns, Step.NETFILTER, detail, table=table, chain=chain,
                        rule=number, verdict=verdict))
        if verdict == "DROP":
            hops.append(Hop(direction, ns, Step.DROP, f"dropped in {table}:{chain}"))
    return hops


def split(packets: list[_Packet]) -> tuple[_Packet | None, _Packet | None]:
    """The request (first packet seen) and its reply (first from another source)."""
    if not packets:
        return None, None
    request = packets[0]
    src = request.first.get("SRC")
    reply = next((p for p in packets[1:] if p.first.get("SRC") != src), None)
    return request, reply


def _trace_rules(proto: str, action: str) -> str:
    protos = [proto] if proto == "icmp" else [proto, "icmp"]
    head = "-I {} 1" if action == "-I" else "-D {}"
    lines = [f"{head.format(chain)} -p {p} -j TRACE"
             for chain in ("PREROUTING", "OUTPUT") for p in protos]
    return "*raw\n" + "\n".join(lines) + "\nCOMMIT\n"


def path_order(backend: Backend, origin: str, names: list[str]) -> list[str]:
    """Namespaces in breadth-first order over veth links from `origin`, then the rest."""
    order = [origin]
    for ns in order:
        for link in backend.link_list(ns):
            if link.peer_ns is not None and link.peer_ns not in order and link.peer_ns in names:
                order.append(link.peer_ns)
    return order + sorted(n for n in names if n not in order)


class TraceMixin:
    """KernelBackend's `trace`."""

    if TYPE_CHECKING:
        def _space(self, ns: str) -> Space: ...
        def netns_list(self) -> list[str]: ...
        def iptables_save(self, ns: str, *, table: str | None = None,
                          counters: bool = False) -> str: ...
        def iptables_restore(self, ns: str, text: str, *, noflush: bool = True,
                             test: bool = False) -> None: ...
        def route_get(self, ns: str, dst: str) -> RouteDecision: ...
        def conntrack_list(self, ns: str) -> list[ConntrackEntry]: ...

    def _conntrack_hops(self, ns: str, packet: _Packet) -> list[Hop]:
        """The connection the request left in the namespace's conntrack table (where some
        rule made conntrack run), with the NAT it recorded."""
        first = packet.first
        try:
            entries = self.conntrack_list(ns)
        except CtrnetError:
            return []
        hops = []
        for e in entries:
            if e.orig_src != first.get("SRC") or e.orig_dst != first.get("DST"):
                continue
            state = f" {e.state}" if e.state else ""
            nat = "" if (e.reply_src, e.reply_dst) == (e.orig_dst, e.orig_src) else (
                f", NAT: replies come from {e.reply_src} to {e.reply_dst}")
            hops.append(Hop(Direction.REQUEST, ns, Step.CONNTRACK,
                            f"conntrack: {e.proto} {e.orig_src} > {e.orig_dst}{state}"
                            f"{' [ASSURED]' if e.assured else ''}{nat}"))
        return hops

    def _route_hop(self, ns: str, packet: _Packet,
                   direction: Direction = Direction.REQUEST) -> Hop:
        """The routing decision for the packet as it left the namespace's PREROUTING/OUTPUT
        (after DNAT), asked of the kernel afterwards (`ip route get`)."""
        dst = packet.fields[-1].get("DST", "")
        try:
            decision = self.route_get(ns, dst)
        except CtrnetError as err:
            return Hop(direction, ns, Step.ROUTE, f"no route to {dst}: {err}")
        if decision.type == "local":
            return Hop(direction, ns, Step.ROUTE, f"{dst} is local: input")
        if decision.dev == packet.first.get("IN"):
            # Out the way it came in, a bridge: bridged, not routed (br_netfilter showed the
            # frame to iptables with the bridge as both devices).
            return Hop(direction, ns, Step.BRIDGE,
                       f"bridged by {decision.dev} (br_netfilter passes it through iptables)",
                       decision.dev)
        via = f" via {decision.gateway}" if decision.gateway else ""
        src = f" src {decision.prefsrc}" if decision.prefsrc else ""
        return Hop(direction, ns, Step.ROUTE, f"route to {dst}{via} dev {decision.dev}{src}",
                   decision.dev)

    def trace(self, ns: str, dst: str, *, proto: str = "icmp", port: int | None = None,
              timeout: float = 1.0) -> PacketTrace:
        if shutil.which("xtables-monitor") is None:
            raise from_errno(errno.EOPNOTSUPP, "tracing needs xtables-monitor (iptables-nft)")
        self._space(ns)
        names = ["host", *self.netns_list()]
        saved = {name: self.iptables_save(name) for name in names}
        listings = {name: handles(tools.run(self._space(name).real,
                                            ["nft", "-a", "list", "ruleset"]).stdout)
                    for name in names}
        monitors: dict[str, _Monitor] = {}
        traced: list[str] = []
        try:
            deadline = time.monotonic() + _READY_TIMEOUT
            for name in names:
                monitors[name] = _Monitor(self._space(name).real, name)
            for monitor in monitors.values():
                monitor.wait_ready(deadline)
            for name in names:
                self.iptables_restore(name, _trace_rules(proto, "-I"))
                traced.append(name)
            outcome = run_probe(self, ns, dst, proto, port, timeout)  # type: ignore[arg-type]
        finally:
            # The monitors first: for each event they ask the kernel for the rule's text,
            # which must still be there.
            deadline = time.monotonic() + 5.0
            for monitor in monitors.values():
                monitor.stop(deadline)
            for name in traced:
                self.iptables_restore(name, _trace_rules(proto, "-D"))
                if "*raw" not in saved[name]:
                    # Leave no empty raw table behind either (iptables-nft keeps it).
                    tools.run(self._space(name).real, ["nft", "delete", "table", "ip", "raw"])
        order = path_order(self, ns, names)  # type: ignore[arg-type]
        requests: list[Hop] = []
        replies: list[list[Hop]] = []
        for name in order:
            request, reply = split(parse(monitors[name].lines))
            if request is not None:
                hops = packet_hops(name, request, Direction.REQUEST, saved[name],
                                   listings[name])
                requests += [hops[0], self._route_hop(name, request), *hops[1:],
                             *self._conntrack_hops(name, request)]
            if reply is not None:
                hops = packet_hops(name, reply, Direction.REPLY, saved[name], listings[name])
                replies.append([hops[0], self._route_hop(name, reply, Direction.REPLY),
                                *hops[1:]])
        hops = requests + [hop for group in reversed(replies) for hop in group]
        return PacketTrace(ns, dst, proto, port, outcome, tuple(hops))

