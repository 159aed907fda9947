"""The simulator backend: an in-memory, deterministic model of Linux namespaces, veths,
bridges, IPv4 routing, ARP, ICMP, netfilter (iptables, conntrack, NAT, br_netfilter,
ebtables), tc tbf and TCP/UDP on a virtual clock (`SimBackend`).
"""

# The whole stack first: each protocol handler registers at its hook point as it is imported
# (stack.py), so that any module of the simulator, imported by any path, has a complete world.
from ctrnet.backends.sim import stack  # noqa: F401
from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.keeper import open_world

__all__ = ["SimBackend", "open_world"]
