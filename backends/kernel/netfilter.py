"""Netfilter, traffic control and transport probes of the kernel backend.

`NetfilterMixin` gives KernelBackend the Backend operations for iptables and ebtables
(`iptables.py`, `ebtables.py`), conntrack (`conntrack.py`), root qdiscs (`tc.py`) and
TCP/UDP probes (`transport.py`); each resolves the logical namespace to its `Space` and
delegates. The mixin also owns the listeners it started: `_close_probes` stops them when the
world closes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ctrnet.backend import Listener
from ctrnet.types import ConnectResult, ConntrackEntry, Proto, Qdisc, TransferResult

from . import conntrack, ebtables, iptables, tc, transport
from .spaces import Space


class NetfilterMixin:
    """The iptables / ebtables / conntrack / tc / TCP-UDP probe operations of KernelBackend."""

    if TYPE_CHECKING:
        def _space(self, ns: str) -> Space: ...

    def _listeners(self) -> list[transport.KernelListener]:
        # Made lazily: KernelBackend.__init__ (not ours to change) does not call us.
        found: list[transport.KernelListener] | None = self.__dict__.get("_probe_listeners")
        if found is None:
            with _init_lock:
                found = self.__dict__.setdefault("_probe_listeners", [])
        return found

    def _close_probes(self, ns: str | None = None) -> None:
        """Close the listeners of namespace `ns` (None: all). A listener's socket pins its
        namespace in the kernel, so the world must close them before it unpins its own."""
        listeners = self._listeners()
        for listener in [lsn for lsn in listeners if ns is None or lsn.ns == ns]:
            listener.close()
            listeners.remove(listener)

    # -- iptables / ebtables ---------------------------------------------------------------
    def iptables_restore(self, ns: str, text: str, *, noflush: bool = True,
                         test: bool = False) -> None:
        iptables.restore(self._space(ns).real, ns, text, noflush=noflush, test=test)

    def iptables_save(self, ns: str, *, table: str | None = None, counters: bool = False) -> str:
        return iptables.save(self._space(ns).real, ns, table=table, counters=counters)

    def iptables_zero(self, ns: str, *, table: str = "filter", chain: str | None = None) -> None:
        iptables.zero(self._space(ns).real, ns, table=table, chain=chain)

    def ebtables(self, ns: str, argv: list[str]) -> str:
        return iptables.ebtables(self._space(ns).real, ns, argv)

    def ebtables_restore(self, ns: str, text: str, *, noflush: bool = True) -> None:
        ebtables.restore(self._space(ns).real, ns, text, noflush=noflush)

    # -- conntrack ----------------------------------------------------------------------------
    def conntrack_list(self, ns: str) -> list[ConntrackEntry]:
        return conntrack.list_entries(self._space(ns).real, ns)

    def conntrack_flush(self, ns: str) -> None:
        conntrack.flush(self._space(ns).real, ns)

    # -- traffic control -----------------------------------------------------------------------
    def tc_tbf_set(self, ns: str, dev: str, *, rate_bps: int, burst: int,
                   latency: float) -> None:
        tc.tbf_set(self._space(ns), dev, rate_bps=rate_bps, burst=burst, latency=latency)

    def tc_qdisc_delete(self, ns: str, dev: str) -> None:
        tc.qdisc_delete(self._space(ns), dev)

    def tc_qdisc_get(self, ns: str, dev: str) -> Qdisc:
        return tc.qdisc_get(self._space(ns), dev)

    # -- transport probes ---------------------------------------------------------------------
    def listen(self, ns: str, proto: Proto, port: int, address: str = "0.0.0.0") -> Listener:
        space = self._space(ns)
        listener = transport.KernelListener(space.fd, ns, Proto(proto), port, address)
        listeners = self._listeners()
        listeners[:] = [lsn for lsn in listeners if not lsn.closed]
        listeners.append(listener)
        return listener

    def connect(self, ns: str, proto: Proto, dst: str, port: int, *, timeout: float = 1.0,
                payload: bytes = b"ctrnet") -> ConnectResult:
        return transport.connect(self._space(ns).fd, Proto(proto), dst, port, timeout=timeout,
                                 payload=payload)

    def transfer(self, ns: str, dst: str, port: int, nbytes: int, *,
                 timeout: float = 30.0) -> TransferResult:
        return transport.transfer(self._space(ns).fd, dst, port, nbytes, timeout=timeout)


_init_lock = threading.Lock()
