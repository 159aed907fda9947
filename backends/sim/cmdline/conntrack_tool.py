"""`conntrack` (conntrack-tools 1.4.7, as Debian 12 ships it) on the simulated namespace's
connection tracking table: -L (list), -C (count), -D (delete what the filters select), -F
(flush), filtered by -p, -s/-d (original source/destination), -r/-q (reply source/
destination), --sport/--dport (original ports), --state (TCP); `-o extended` adds the layer-3
column. Lines follow libnetfilter_conntrack's default format: protocol, timeout left in
whole seconds, TCP state, the original tuple, [UNREPLIED], the reply tuple, [ASSURED],
mark and use. Anything else (events, expectations, NAT filters, updates) is refused loudly.
"""

from __future__ import annotations

import ipaddress
import math
import os

from ctrnet.backends.sim.cmdline.server import Invocation, Server
from ctrnet.backends.sim.conntrack import (
    ASSURED,
    SEEN_REPLY,
    TCP_STATE_NAMES,
    Conn,
    Tuple,
)
from ctrnet.backends.sim.packet import IPPROTO_ICMP, IPPROTO_TCP, ip_str
from ctrnet.cmdline.context import CommandFailed, Unsupported

_BANNER = "conntrack v1.4.7 (conntrack-tools): "
_HINT = "Try `conntrack -h' or 'conntrack --help' for more information.\n"
_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "6": 6, "17": 17, "1": 1}
#: Protocols conntrack knows but the simulator never tracks: a filter on them selects nothing.
_UNTRACKED = {"sctp", "dccp", "udplite", "gre", "icmpv6", "132", "33", "136", "47", "58"}
_COMMANDS = {"-L": "list", "--dump": "list", "-C": "count", "--count": "count",
             "-D": "delete", "--delete": "delete", "-F": "flush", "--flush": "flush"}
_REFUSED = {"-E", "--event", "-I", "--create", "-U", "--update", "-G", "--get", "-S",
            "--stats", "-R", "--load-file", "--src-nat", "--dst-nat", "--any-nat", "-m",
            "--mark", "-c", "--secmark", "-z", "--zero", "-f", "--family", "-t", "--timeout",
            "-u", "--status", "-e", "--event-mask", "-b", "--buffer-size", "-l", "--label",
            "--zone", "--orig-zone", "--reply-zone", "-w", "--tuple-src", "--tuple-dst",
            "--mask-src", "--mask-dst", "--icmp-type", "--icmp-code", "--icmp-id", "-x",
            "--xml", "-n", "-g", "-j", "--reply-port-src", "--reply-port-dst", "-V",
            "--version", "-h", "--help"}
_ADDRESS_FILTERS = {"-s": 0, "--src": 0, "--orig-src": 0, "-d": 1, "--dst": 1,
                    "--orig-dst": 1, "-r": 2, "--reply-src": 2, "-q": 3, "--reply-dst": 3}
_PORT_FILTERS = {"--sport": 0, "--orig-port-src": 0, "--dport": 1, "--orig-port-dst": 1}


def _fail(message: str) -> CommandFailed:
    return CommandFailed(f"{_BANNER}{message}\n{_HINT}", 2)


class _Query:
    def __init__(self) -> None:
        self.command: str | None = None
        self.proto: int | None = None
        self.untracked = False
        self.addresses: dict[int, int] = {}
        self.ports: dict[int, int] = {}
        self.state: str | None = None
        self.extended = False

    def selects(self, conn: Conn) -> bool:
        if self.untracked:
            return False
        orig, reply = conn.orig, conn.reply
        if self.proto is not None and orig[0] != self.proto:
            return False
        where = {0: orig[1], 1: orig[2], 2: reply[1], 3: reply[2]}
        if any(where[k] != v for k, v in self.addresses.items()):
            return False
        if self.ports and orig[0] == IPPROTO_ICMP:
            return False
        if any(orig[3 + k] != v for k, v in self.ports.items()):
            return False
        return self.state is None or (
            orig[0] == IPPROTO_TCP and TCP_STATE_NAMES[conn.tcp_state] == self.state)


def parse(argv: list[str]) -> _Query:
    query = _Query()
    args = list(argv)
    while args:
        word = args.pop(0)
        if word in _COMMANDS:
            if query.command is not None:
                raise Unsupported("conntrack", "more than one command")
            query.command = _COMMANDS[word]
            if args and not args[0].startswith("-"):
                raise Unsupported("conntrack", f"table {args[0]!r} (only the conntrack table)")
        elif word in ("-p", "--proto", "--protonum"):
            name = _value(word, args).lower()
            if name in _UNTRACKED:
                query.untracked = True
            elif name not in _PROTOS:
                raise Unsupported("conntrack", f"protocol {name!r}")
            else:
                query.proto = _PROTOS[name]
        elif word in _ADDRESS_FILTERS:
            text = _value(word, args)
            try:
                query.addresses[_ADDRESS_FILTERS[word]] = int(ipaddress.IPv4Address(text))
            except ValueError:
                raise Unsupported("conntrack", f"{word} {text} (only IPv4 addresses)") from None
        elif word in _PORT_FILTERS:
            text = _value(word, args)
            if not text.isdigit() or int(text) > 65535:
                raise Unsupported("conntrack", f"{word} {text}")
            query.ports[_PORT_FILTERS[word]] = int(text)
        elif word == "--state":
            query.state = _value(word, args).upper()
            if query.state not in TCP_STATE_NAMES:
                raise Unsupported("conntrack", f"--state {query.state}")
        elif word in ("-o", "--output"):
            formats = _value(word, args).split(",")
            if any(f != "extended" for f in formats):
                raise Unsupported("conntrack", f"output format {','.join(formats)}")
            query.extended = True
        elif word in _REFUSED:
            raise Unsupported("conntrack", f"option {word}")
        elif word.startswith("-"):
            raise _fail(f"unknown option `{word}'")
        else:
            raise Unsupported("conntrack", f"argument {word!r}")
    if query.command is None:
        raise Unsupported("conntrack", "running without a command (-L, -C, -D or -F)")
    if (query.ports or query.state) and query.proto is None:
        # conntrack-tools: protocol options need -p first.
        raise Unsupported("conntrack", "port or state filters without -p")
    return query


def _value(option: str, args: list[str]) -> str:
    if not args:
        raise _fail(f"option `{option}' requires an argument")
    return args.pop(0)


def _tuple(t: Tuple, reply: bool) -> str:
    proto, src, dst, sport, dport = t
    text = f"src={ip_str(src)} dst={ip_str(dst)} "
    if proto == IPPROTO_ICMP:
        # The echo id is the tuple's "port"; the reply direction is an echo reply.
        return text + f"type={0 if reply else 8} code=0 id={sport} "
    return text + f"sport={sport} dport={dport} "


def line(conn: Conn, now: float, extended: bool) -> str:
    """One entry as libnetfilter_conntrack prints it (NFCT_O_DEFAULT)."""
    proto = conn.orig[0]
    name = {1: "icmp", 6: "tcp", 17: "udp"}[proto]
    text = "ipv4     2 " if extended else ""
    # The timeout left, in whole seconds rounded down (nf_ct_expires() / HZ).
    text += f"{name:<8} {proto} {max(0, math.floor(conn.expires - now))} "
    if proto == IPPROTO_TCP:
        text += f"{TCP_STATE_NAMES[conn.tcp_state]} "
    text += _tuple(conn.orig, False)
    if not conn.status & SEEN_REPLY:
        text += "[UNREPLIED] "
    text += _tuple(conn.reply, True)
    if conn.status & ASSURED:
        text += "[ASSURED] "
    return text + "mark=0 use=1\n"


def run(server: Server, inv: Invocation) -> int:
    """The `conntrack` tool of the server's table."""
    try:
        query = parse(inv.argv)
    except CommandFailed as failure:
        inv.stderr.write(failure.message)
        return failure.status
    with server.lock:
        from ctrnet.backends.sim.netfilter import nf_state

        world = server.backend.world
        space = world.ns(inv.ns or server.backend.host_ns)
        table = nf_state(world, space).conntrack
        now = world.clock.now()
        if query.command == "flush":
            table.flush()
            inv.stderr.write(f"{_BANNER}connection tracking table has been emptied.\n")
            return 0
        chosen = [conn for conn in table.entries() if query.selects(conn)]
        if query.command == "count":
            if query.proto is not None or query.addresses or query.state or query.untracked:
                raise_unsupported = Unsupported("conntrack", "-C with filters")
                inv.stderr.write(raise_unsupported.message)
                return raise_unsupported.status
            inv.stdout.write(f"{len(chosen)}\n")
            return 0
        lines = "".join(line(conn, now, query.extended) for conn in chosen)
        if query.command == "delete":
            for conn in chosen:
                table.remove(conn)
            summary = f"{_BANNER}{len(chosen)} flow entries have been deleted.\n"
            status = 0 if chosen else 1
        else:
            summary = f"{_BANNER}{len(chosen)} flow entries have been shown.\n"
            status = 0
        # conntrack writes the entries to stdout, buffered unless it is a terminal, and the
        # summary to stderr when it is done: into one pipe, the summary comes first.
        out = inv.fds.get(1)
        if out is not None and os.isatty(out):
            inv.stdout.write(lines)
            inv.stderr.write(summary)
        else:
            inv.stderr.write(summary)
            inv.stdout.write(lines)
        return status
