"""Packet traces: the probe both backends send when they trace (`run_probe`). The trace
types themselves (`PacketTrace`, `Hop`, `Step`, ...) are observation types of the Backend
protocol and live in `ctrnet.types`; they are re-exported here for the troubleshooting code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctrnet.errors import InvalidConfig, Unreachable
from ctrnet.types import (
    ChainVerdict,
    ConnectOutcome,
    Direction,
    Hop,
    PacketTrace,
    Proto,
    Step,
)

if TYPE_CHECKING:
    from ctrnet.backend import Backend

__all__ = ["PROTOS", "ChainVerdict", "Direction", "Hop", "PacketTrace", "Step", "run_probe"]


PROTOS = ("icmp", "tcp", "udp")


def run_probe(backend: Backend, ns: str, dst: str, proto: str, port: int | None,
              timeout: float) -> str:
    """Send the traced probe: one ICMP echo, or a TCP/UDP connect to `port`; how it ended
    for the sender ("answered", "refused", "unreachable", "timeout")."""
    try:
        if proto == "icmp":
            return "answered" if backend.ping(ns, dst, count=1, timeout=timeout).ok \
                else "timeout"
        if port is None:
            raise InvalidConfig(f"a {proto} trace needs a port (--to ADDR:PORT)",
                                ja=f"{proto} のトレースにはポートが必要です（--to ADDR:PORT）")
        result = backend.connect(ns, Proto(proto), dst, port, timeout=timeout)
    except Unreachable:
        return "unreachable"
    if result.outcome is ConnectOutcome.CONNECTED:
        return "answered"
    return str(result.outcome.value)
