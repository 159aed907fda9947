"""The simulator backend: an in-memory, deterministic model of Linux namespaces, veths,
bridges, IPv4 routing, ARP and ICMP on a virtual clock (`SimBackend`).
"""

from ctrnet.backends.sim.backend import SimBackend

__all__ = ["SimBackend"]
