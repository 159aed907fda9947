"""The simulated network stack, assembled: importing this module imports every protocol
handler, and each registers itself at its hook point as it is imported (`hooks.py` lists the
hook points), as the kernel's initcalls do. The package imports it before anything else, so
every World has its whole stack, and nothing below a handler imports it.

The layers, from the bottom; a module imports only modules of the layers below it:

    packet, clock               frames and the virtual clock
    conntrack, nat, nfstate     netfilter's data: connections, NAT bindings, a namespace's rules
    icmplimit                   a namespace's ICMP rate limits (peers' buckets, the global one)
    devices                     namespaces, devices, bridge ports and FDB, routes, neighbours
    hooks, tc, routing          netfilter's hook points, the tbf qdisc, address and route changes
    world                       delivering frames (net/core/dev.c), its hook points
    neighbour, bridge           ARP and neighbour output; bridge forwarding
    ipv4                        IPv4 receive, forward, output and ICMP; inet_protos
    tcp, sockets                the transports
    br_netfilter, netfilter     iptables, conntrack, NAT and ebtables at the hook points
    stack                       this module
    links, probes, operations, trace, capture, backend, ...   the Backend over the stack
"""

from __future__ import annotations

from ctrnet.backends.sim import br_netfilter, bridge, ipv4, neighbour, netfilter, sockets, tcp

#: The protocol handlers; importing them is what registers them.
HANDLERS = (neighbour, bridge, ipv4, tcp, sockets, br_netfilter, netfilter)
