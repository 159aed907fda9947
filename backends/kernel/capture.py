"""Packet capture on the kernel: an AF_PACKET socket made inside the namespace (a socket
keeps the namespace it was created in), bound to one interface, read by a thread.

Like tcpdump without BPF: both directions of the interface (PACKET_OUTGOING copies from
dev_queue_xmit_nit included), stamped on arrival; the capture filter runs in Python
(`ctrnet.troubleshoot.pcapfilter`), the same code as the simulator's. Outgoing TCP/UDP from
the namespace's own stack carries a partial checksum (checksum offload), as tcpdump shows it.
"""

from __future__ import annotations

import errno
import select
import socket
import threading
import time
from typing import TYPE_CHECKING

from ctrnet.backend import Capture
from ctrnet.errors import from_errno
from ctrnet.troubleshoot import pcap
from ctrnet.troubleshoot.pcapfilter import Predicate, compile_filter
from ctrnet.troubleshoot.wire import decode

from . import nsfs

if TYPE_CHECKING:
    from .spaces import Space

ETH_P_ALL = 0x0003
#: sll_pkttype of a frame the interface sent; sll_hatype of lo (include/uapi/linux/if_*.h).
PACKET_OUTGOING = 4
ARPHRD_LOOPBACK = 772
#: Largest frame read at once (GRO can hand a veth 64 KiB aggregates).
_BUFSIZE = 65536 + 64
_POLL = 0.05


class KernelCapture(Capture):
    """A capture running on one interface of a namespace."""

    def __init__(self, space: Space, ifname: str, filter: str | None) -> None:
        self.ns = space.name
        self.ifname = ifname
        self._keep: Predicate = compile_filter(filter)
        with nsfs.entered(space.fd):
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            sock.bind((ifname, ETH_P_ALL))
        except OSError as err:
            sock.close()
            code = errno.ENODEV if err.errno in (errno.ENODEV, errno.ENXIO) else err.errno
            raise from_errno(code or errno.EIO,
                             f"capture on {ifname} in namespace {space.name}: "
                             f"{err.strerror}") from err
        sock.setblocking(False)
        self._sock = sock
        self._records: list[pcap.Record] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._result: bytes | None = None
        self._thread = threading.Thread(target=self._run, name=f"capture-{ifname}",
                                         daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data, address = self._sock.recvfrom(_BUFSIZE)
            except OSError:  # BlockingIOError included: nothing left
                return
            if address[2] == PACKET_OUTGOING and address[3] == ARPHRD_LOOPBACK:
                continue  # libpcap drops these: lo hands each packet back in as well
            if self._keep(decode(data)):
                with self._lock:
                    self._records.append(pcap.Record(time.time(), data))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self._sock], [], [], _POLL)
            except (OSError, ValueError):
                return
            if ready:
                self._drain()

    @property
    def records(self) -> list[pcap.Record]:
        with self._lock:
            return list(self._records)

    def stop(self) -> bytes:
        if self._result is None:
            self._stopping.set()
            self._thread.join()
            # What the kernel queued before stop() is in the socket already: read it all.
            self._drain()
            self._sock.close()
            self._result = pcap.write(self.records)
        return self._result


class CaptureMixin:
    """KernelBackend's `capture_start`."""

    if TYPE_CHECKING:
        def _space(self, ns: str) -> Space: ...

    def capture_start(self, ns: str, ifname: str, *, filter: str | None = None) -> Capture:
        return KernelCapture(self._space(ns), ifname, filter)
