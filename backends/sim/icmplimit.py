"""ICMP output rate limits of one namespace, as Linux 6.18 keeps them (net/ipv4/icmp.c,
net/ipv4/inetpeer.c, ip_error in net/ipv4/route.c), on the virtual clock in jiffies.

Two limits an ICMP message of a type in `net.ipv4.icmp_ratemask` passes, both per network
namespace (the global one is per namespace since 6.12):

- the global bucket (`icmp_global_allow` / `icmp_global_consume`): up to
  `icmp_msgs_burst` credits, refilled at `icmp_msgs_per_sec`, but only once at least HZ/50
  jiffies have passed since the last refill; a message may go while the credit is above 0,
  and each message sent takes a random 0, 1 or 2 credits. The simulator takes the mean, 1
  (deterministic; docs/fidelity.md and the sickbay say where the kernel differs);
- the destination's peer (`inet_peer_xrlim_allow`): a token bucket of XRLIM_BURST_FACTOR
  times `icmp_ratelimit` jiffies; a message costs `icmp_ratelimit` jiffies of tokens, so a
  burst of 6 passes, then one per `icmp_ratelimit`. A new peer starts with no tokens and
  `rate_last` 60 s ago: a full burst.

A packet the router cannot route is first limited by ip_error, on the same peer's tokens:
a burst of 5 s of tokens, 1 s per error (`net.ipv4.route.error_cost`/`error_burst`, which
only the initial namespace has: their defaults here), and the ICMP limit then spends the same
tokens again.

Layering: data of a namespace, beside `nfstate.py`, below `devices.py` (which holds one per
namespace); `ipv4.py` decides when a message is checked.
"""

from __future__ import annotations

#: CONFIG_HZ of the reference kernel: jiffies per second.
HZ = 250
XRLIM_BURST_FACTOR = 6
#: inet_getpeer: a new peer's rate_last lies this far back ("its first calculation of tokens
#: is at its maximum").
NEW_PEER_AGE = 60 * HZ
#: ip_rt_error_cost and ip_rt_error_burst (net/ipv4/route.c).
ERROR_COST = HZ
ERROR_BURST = 5 * HZ
#: NR_ICMP_TYPES: types above it are never limited.
NR_ICMP_TYPES = 18

RATELIMIT = "net.ipv4.icmp_ratelimit"
RATEMASK = "net.ipv4.icmp_ratemask"
MSGS_PER_SEC = "net.ipv4.icmp_msgs_per_sec"
MSGS_BURST = "net.ipv4.icmp_msgs_burst"
#: The sysctls' defaults as they read (icmp_sk_init): icmp_ratelimit is kept in jiffies and
#: read in milliseconds (proc_dointvec_ms_jiffies), icmp_ratemask 0x1818 = types 3, 4, 11, 12.
DEFAULTS = {RATELIMIT: "1000", RATEMASK: "6168", MSGS_PER_SEC: "1000", MSGS_BURST: "50"}


def jiffies(seconds: float) -> int:
    """The virtual clock in jiffies."""
    return int(seconds * HZ)


def ms_to_jiffies(ms: int) -> int:
    """msecs_to_jiffies: rounded up."""
    return -(-ms * HZ // 1000)


def jiffies_to_ms(jif: int) -> int:
    return jif * 1000 // HZ


class Peer:
    """The rate-limit half of an inet_peer: its tokens and when they were last counted."""

    __slots__ = ("tokens", "last")

    def __init__(self, now: int) -> None:
        self.tokens = 0
        self.last = now - NEW_PEER_AGE


class IcmpLimits:
    """A namespace's ICMP limiters: its peers (net->ipv4.peers, by destination address) and
    the global bucket (net->ipv4.icmp_global_credit and _stamp)."""

    __slots__ = ("peers", "credit", "stamp")

    def __init__(self) -> None:
        self.peers: dict[int, Peer] = {}
        self.credit = 0
        #: The jiffy of the last refill; None: never (the kernel's stamp 0, long past).
        self.stamp: int | None = None

    def copy_for(self, daddr: int) -> IcmpLimits:
        """A copy holding the global bucket and the peer of `daddr` (to ask what would
        happen without changing anything)."""
        copy = IcmpLimits()
        copy.credit, copy.stamp = self.credit, self.stamp
        peer = self.peers.get(daddr)
        if peer is not None:
            twin = copy.peers[daddr] = Peer(0)
            twin.tokens, twin.last = peer.tokens, peer.last
        return copy

    def peer(self, daddr: int, now: int) -> Peer:
        """inet_getpeer_v4 with create: the peer of `daddr`, made if it is new."""
        found = self.peers.get(daddr)
        if found is None:
            found = self.peers[daddr] = Peer(now)
        return found

    def global_allow(self, now: int, per_sec: int, burst: int) -> bool:
        """icmp_global_allow: may one more message go? Refills the credit when it is used up
        and at least HZ/50 jiffies passed since the last refill."""
        if self.credit > 0:
            return True
        delta = HZ if self.stamp is None else min(now - self.stamp, HZ)
        if delta < HZ // 50:
            return False
        incr = per_sec * delta // HZ
        if not incr:
            return False
        self.stamp = now
        self.credit = min(self.credit + incr, burst)
        return True

    def global_consume(self) -> None:
        """icmp_global_consume takes get_random_u32_below(3) credits: their mean."""
        self.credit -= 1

    def xrlim_allow(self, daddr: int, now: int, timeout: int) -> bool:
        """inet_peer_xrlim_allow(peer of daddr, timeout jiffies)."""
        peer = self.peer(daddr, now)
        token = peer.tokens
        delta = now - peer.last
        if delta:
            peer.last = now
            token += delta
            if token > XRLIM_BURST_FACTOR * timeout:
                token = XRLIM_BURST_FACTOR * timeout
        allowed = token >= timeout
        if allowed:
            token -= timeout
        peer.tokens = token
        return allowed

    def ip_error_allow(self, saddr: int, now: int) -> bool:
        """ip_error's own limit on the sender's peer, before it calls icmp_send."""
        peer = self.peer(saddr, now)
        tokens = peer.tokens + now - peer.last
        if tokens > ERROR_BURST:
            tokens = ERROR_BURST
        peer.last = now
        allowed = tokens >= ERROR_COST
        if allowed:
            tokens -= ERROR_COST
        peer.tokens = tokens
        return allowed


def mask_allow(type: int, code: int, mask: int) -> bool:
    """icmpv4_mask_allow: True when the message is not limited at all (a type above
    NR_ICMP_TYPES, fragmentation needed, a type whose bit is clear in the mask)."""
    if type > NR_ICMP_TYPES:
        return True
    if type == 3 and code == 4:  # ICMP_DEST_UNREACH / ICMP_FRAG_NEEDED: PMTU discovery
        return True
    return not (1 << type) & mask
