"""SimBackend's netfilter, traffic-control and transport operations (the Backend methods of
iptables, ebtables, conntrack, tc and the TCP/UDP probes), over the world's per-namespace
`NfState`, devices' qdiscs and socket tables.

Layering: above the stack, part of the backend (SimBackend's mixins).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ctrnet.backend import Listener
from ctrnet.backends.sim import probes, tc
from ctrnet.backends.sim.conntrack import ASSURED, TCP_STATE_NAMES, Conn
from ctrnet.backends.sim.netfilter import nf_state
from ctrnet.backends.sim.packet import IPPROTO_ICMP, IPPROTO_TCP, ip_str, parse_ip
from ctrnet.backends.sim.sockets import sockets
from ctrnet.errors import CtrnetError, InvalidConfig, from_errno
from ctrnet.netfilter.ebtables import EbtablesFilter
from ctrnet.types import ConnectResult, ConntrackEntry, Proto, Qdisc, TransferResult

if TYPE_CHECKING:
    from ctrnet.backends.sim.devices import Device, Namespace
    from ctrnet.backends.sim.world import World

_TABLES = ("filter", "nat", "mangle", "raw", "security")


def _ip(text: str) -> int:
    try:
        return parse_ip(text)
    except ValueError:
        raise from_errno(errno.EINVAL, f"bad IPv4 address {text!r}") from None


class NetfilterOps:
    """The Backend operations of issue 3 on the simulated world (mixed into SimBackend)."""

    world: World

    if TYPE_CHECKING:
        def _ns(self, ns: str) -> Namespace: ...

        def _dev(self, ns: str, name: str) -> Device: ...

    # -- iptables / ebtables ---------------------------------------------------------------
    def iptables_restore(self, ns: str, text: str, *, noflush: bool = True,
                         test: bool = False) -> None:
        space = self._ns(ns)
        state = nf_state(self.world, space)
        rules = state.rules.copy() if test else state.rules
        try:
            rules.restore(text, noflush=noflush)
        except InvalidConfig as err:
            raise from_errno(errno.EINVAL, f"iptables-restore in namespace {ns}: {err}") from err

    def iptables_save(self, ns: str, *, table: str | None = None, counters: bool = False) -> str:
        space = self._ns(ns)
        if table is not None and table not in _TABLES:
            raise from_errno(errno.ENOENT, f"table '{table}' does not exist")
        if space.nf is None:
            return ""
        tables = (table,) if table is not None else None
        return str(space.nf.rules.save(counters=counters, tables=tables))

    def iptables_zero(self, ns: str, *, table: str = "filter", chain: str | None = None) -> None:
        space = self._ns(ns)
        if table not in _TABLES:
            raise from_errno(errno.ENOENT, f"table '{table}' does not exist")
        argv = ["-t", table, "-Z"] + ([chain] if chain is not None else [])
        try:
            nf_state(self.world, space).rules.run(argv)
        except InvalidConfig as err:
            raise from_errno(errno.EINVAL, f"iptables in namespace {ns}: {err}") from err

    def ebtables(self, ns: str, argv: list[str]) -> str:
        state = nf_state(self.world, self._ns(ns))
        if state.ebtables is None:
            state.ebtables = EbtablesFilter()
        try:
            return state.ebtables.run(list(argv))
        except InvalidConfig as err:
            raise from_errno(errno.EINVAL, f"ebtables in namespace {ns}: {err}") from err

    def ebtables_restore(self, ns: str, text: str, *, noflush: bool = True) -> None:
        state = nf_state(self.world, self._ns(ns))
        if state.ebtables is None:
            state.ebtables = EbtablesFilter()
        try:
            state.ebtables.restore(text, noflush=noflush)
        except CtrnetError as err:
            why = err.args[0] if err.args else str(err)
            raise from_errno(err.errno, f"ebtables-restore in namespace {ns}: {why}") from err

    # -- conntrack ---------------------------------------------------------------------------
    def conntrack_list(self, ns: str) -> list[ConntrackEntry]:
        space = self._ns(ns)
        if space.nf is None:
            return []
        return [_entry(ns, conn) for conn in space.nf.conntrack.entries()]

    def conntrack_flush(self, ns: str) -> None:
        space = self._ns(ns)
        if space.nf is not None:
            space.nf.conntrack.flush()

    # -- traffic control -----------------------------------------------------------------------
    def tc_tbf_set(self, ns: str, dev: str, *, rate_bps: int, burst: int,
                   latency: float) -> None:
        tc.tbf_set(self._dev(ns, dev), rate_bps, burst, latency, self.world.clock.now())

    def tc_qdisc_delete(self, ns: str, dev: str) -> None:
        tc.qdisc_delete(self._dev(ns, dev))

    def tc_qdisc_get(self, ns: str, dev: str) -> Qdisc:
        return tc.qdisc_get(self._dev(ns, dev))

    # -- transport probes ---------------------------------------------------------------------
    def listen(self, ns: str, proto: Proto, port: int, address: str = "0.0.0.0") -> Listener:
        space = self._ns(ns)
        _ip(address)
        return sockets(self.world, space).listen(Proto(proto), address, port)

    def connect(self, ns: str, proto: Proto, dst: str, port: int, *, timeout: float = 1.0,
                payload: bytes = b"ctrnet") -> ConnectResult:
        return probes.connect(self.world, self._ns(ns), Proto(proto), _ip(dst), port,
                              timeout=timeout, payload=payload)

    def transfer(self, ns: str, dst: str, port: int, nbytes: int, *,
                 timeout: float = 30.0) -> TransferResult:
        return probes.transfer(self.world, self._ns(ns), _ip(dst), port, nbytes,
                               timeout=timeout)


def _entry(ns: str, conn: Conn) -> ConntrackEntry:
    orig, reply = conn.orig, conn.reply
    proto = orig[0]
    ports = proto != IPPROTO_ICMP
    return ConntrackEntry(
        ns=ns,
        proto={1: "icmp", 6: "tcp", 17: "udp"}.get(proto, str(proto)),
        orig_src=ip_str(orig[1]), orig_dst=ip_str(orig[2]),
        reply_src=ip_str(reply[1]), reply_dst=ip_str(reply[2]),
        orig_sport=orig[3] if ports else None, orig_dport=orig[4] if ports else None,
        reply_sport=reply[3] if ports else None, reply_dport=reply[4] if ports else None,
        state=TCP_STATE_NAMES[conn.tcp_state] if proto == IPPROTO_TCP else None,
        assured=bool(conn.status & ASSURED),
    )
