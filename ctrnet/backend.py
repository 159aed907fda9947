"""The Backend protocol: the seam between the core model and the world it acts on.

Every operation names the namespace it acts in. Namespace names are the caller's logical
names; `host_ns` is the namespace containers are attached from (on the kernel a sandbox
namespace, never the root one). Both backends return the types of `ctrnet.types` and raise
the errors of `ctrnet.errors` with the errno the kernel gives for the same request.
"""

from __future__ import annotations

import abc
import errno
from types import TracebackType

from ctrnet.errors import NotFound, from_errno
from ctrnet.types import (
    Address,
    CaptureRecord,
    ConnectResult,
    ConntrackEntry,
    Endpoint,
    FdbEntry,
    Link,
    Neighbour,
    NeighState,
    PacketTrace,
    PingResult,
    Proto,
    Qdisc,
    Route,
    RouteDecision,
    TransferResult,
)

#: Name of the namespace containers are attached from, in every world.
HOST_NS = "host"

# Capabilities that change how callers use a backend (the others name tools and features a
# test may need: "iptables", "ebtables", "capture", "trace", "virtual-clock", ...).
#: Calls may come from several threads at once (the core then overlaps rule and link steps).
THREAD_SAFE = "thread-safe"
#: Its namespaces are the machine's: a process started with `nsenter --net=PATH`, PATH from
#: `Backend.netns_path`, runs inside one (the grader runs CNI plugins that way).
LAUNCH_IN_NAMESPACE = "launch-in-namespace"
#: The simulated command line can serve this world to processes: its shims (`ip`,
#: `iptables`, `nsenter`, ...) act on it (`ctrnet.backends.sim.cmdline`).
SIMULATED_COMMAND_LINE = "simulated-command-line"
#: It is the running Linux kernel, whose behaviour is the specification: the differential
#: tests of the simulated command line (`ctrnet.compare`) compare the simulator with it, and
#: run when the suite runs on a backend that has it.
ORACLE = "oracle"
#: Its world lives in this process's memory: a forked child acts on a copy of its own, and a
#: kept world (`state_dir`) is a file of its state directory, gone with the directory.
#: Without it the world is the machine's: namespaces every process shares, which outlive the
#: process and the directory.
IN_PROCESS = "in-process"


class Listener(abc.ABC):
    """A TCP or UDP listener a backend runs in a namespace (see `Backend.listen`)."""

    ns: str
    proto: Proto
    address: str
    port: int

    @abc.abstractmethod
    def peers(self) -> list[Endpoint]:
        """Source address and port of each connection (TCP) or datagram (UDP) seen, in order."""

    @abc.abstractmethod
    def received(self) -> int:
        """Bytes received in all."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop listening; idempotent."""

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Capture(abc.ABC):
    """A packet capture on one interface (see `Backend.capture_start`): both directions,
    like `tcpdump -i IFNAME`."""

    ns: str
    ifname: str

    @property
    @abc.abstractmethod
    def records(self) -> list[CaptureRecord]:
        """The frames captured so far (a running capture keeps adding to them)."""

    @abc.abstractmethod
    def stop(self) -> bytes:
        """Stop capturing (idempotent) and return what was captured as a pcap file."""

    def save(self, path: str) -> int:
        """Stop and write the pcap file to `path`; the number of bytes written."""
        data = self.stop()
        with open(path, "wb") as out:
            out.write(data)
        return len(data)

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Backend(abc.ABC):
    """A world of network namespaces. Use as a context manager: leaving it removes the world."""

    #: Registry name: "sim" or "kernel".
    name: str = ""
    #: What this backend can do; a test needing something absent is skipped with its reason.
    capabilities: frozenset[str] = frozenset()

    @property
    def host_ns(self) -> str:
        return HOST_NS

    # -- lifecycle ---------------------------------------------------------------------
    @abc.abstractmethod
    def close(self) -> None:
        """Remove every namespace (and so every object) this world made. Idempotent."""

    def checkpoint(self, records: dict[str, str] | None = None) -> None:
        """Make the world as it is now durable, together with `records` (the network
        manager's state files, path -> text) in one atomic write, for a world kept between
        processes whose state is not the kernel's own (the simulator's, saved in its state
        directory). The manager calls it before an operation's journal entry is dropped. A
        kernel world is durable as it goes: nothing to do."""
        return None

    def checkpointed_records(self) -> dict[str, str] | None:
        """The records saved with the world by the last `checkpoint` (None when the world
        keeps none: a kernel world, a throw-away one). After a crash the records on disk may
        be ahead of the world; the manager puts these back before it recovers."""
        return None

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def missing(self, capability: str) -> str | None:
        """Why `capability` is absent, or None when the backend has it."""
        if capability in self.capabilities:
            return None
        return f"backend {self.name!r} lacks capability {capability!r}"

    # -- namespaces ----------------------------------------------------------------------
    @abc.abstractmethod
    def netns_add(self, ns: str) -> None:
        """A new namespace with only `lo` (down), ip_forward 0, IPv6 disabled. EEXIST if taken."""

    @abc.abstractmethod
    def netns_delete(self, ns: str) -> None:
        """Destroy the namespace, its devices and the peers of its veths. ENOENT if unknown."""

    @abc.abstractmethod
    def netns_list(self) -> list[str]:
        """Namespaces made with `netns_add`, sorted; the host namespace is not listed."""

    @abc.abstractmethod
    def netns_path(self, ns: str) -> str:
        """The path a process of this world names namespace `ns` by, in /run/netns (or
        /var/run/netns, the same directory): what a CNI runtime passes as CNI_NETNS,
        `nsenter --net=` takes and `ip netns exec` opens. On the kernel the namespace's nsfs
        file; on the simulator the path its command line resolves. The host namespace has
        one too. ENOENT if there is no such namespace."""

    # -- links ---------------------------------------------------------------------------
    @abc.abstractmethod
    def veth_add(
        self, ns: str, name: str, peer: str, peer_ns: str | None = None, *, mtu: int | None = None
    ) -> None:
        """A veth pair `name` in `ns` and `peer` in `peer_ns` (default: `ns`), both down."""

    @abc.abstractmethod
    def bridge_add(
        self,
        ns: str,
        name: str,
        *,
        stp_state: int = 0,
        forward_delay: float = 15.0,
        ageing_time: float = 300.0,
    ) -> None:
        """A bridge, down, with no ports."""

    @abc.abstractmethod
    def bridge_set(
        self,
        ns: str,
        name: str,
        *,
        stp_state: int | None = None,
        forward_delay: float | None = None,
        ageing_time: float | None = None,
    ) -> None:
        """Change bridge attributes; None leaves one as it is."""

    @abc.abstractmethod
    def link_set_up(self, ns: str, name: str, up: bool = True) -> None:
        """Set the administrative state (`ip link set NAME up|down`)."""

    @abc.abstractmethod
    def link_set_master(self, ns: str, name: str, master: str | None) -> None:
        """Enslave to bridge `master` (same namespace), or release with None."""

    @abc.abstractmethod
    def link_set_mtu(self, ns: str, name: str, mtu: int) -> None: ...

    @abc.abstractmethod
    def link_set_mac(self, ns: str, name: str, mac: str) -> None: ...

    @abc.abstractmethod
    def link_rename(self, ns: str, name: str, new_name: str) -> None:
        """Rename (`ip link set NAME name NEW`); EEXIST if the new name is taken. Kernels since
        6.2 rename links that are up too (IFF_LIVE_RENAME_OK is no longer required)."""

    @abc.abstractmethod
    def link_set_netns(self, ns: str, name: str, target_ns: str) -> None:
        """Move to another namespace; like the kernel, the link arrives down, without
        addresses and without master."""

    @abc.abstractmethod
    def bridge_port_set(
        self, ns: str, name: str, *, hairpin: bool | None = None, learning: bool | None = None
    ) -> None:
        """Per-port flags of a bridge port."""

    @abc.abstractmethod
    def link_delete(self, ns: str, name: str) -> None:
        """Delete a link; deleting either end of a veth deletes both. ENODEV if unknown."""

    @abc.abstractmethod
    def link_list(self, ns: str) -> list[Link]:
        """All links of `ns`, by index."""

    def link_get(self, ns: str, name: str) -> Link:
        """One link; ENODEV if there is none of that name."""
        for link in self.link_list(ns):
            if link.name == name:
                return link
        raise NotFound(f"device {name!r} not found in namespace {ns!r}", errno.ENODEV,
                       ja=f"名前空間 {ns!r} にデバイス {name!r} はありません")

    # -- addresses -----------------------------------------------------------------------
    @abc.abstractmethod
    def addr_add(self, ns: str, ifname: str, cidr: str) -> None:
        """Add an IPv4 address ("10.0.0.2/24"); its connected route appears when the link is up."""

    @abc.abstractmethod
    def addr_delete(self, ns: str, ifname: str, cidr: str) -> None:
        """Remove an address; EADDRNOTAVAIL if the link does not hold it."""

    @abc.abstractmethod
    def addr_list(self, ns: str, ifname: str | None = None) -> list[Address]: ...

    # -- routes --------------------------------------------------------------------------
    @abc.abstractmethod
    def route_add(
        self,
        ns: str,
        dst: str,
        *,
        gateway: str | None = None,
        dev: str | None = None,
        metric: int | None = None,
    ) -> None:
        """Add to the main table; `dst` is "default" or a prefix. EEXIST if present,
        ENETUNREACH if the gateway is not on a connected network."""

    @abc.abstractmethod
    def route_delete(
        self,
        ns: str,
        dst: str,
        *,
        gateway: str | None = None,
        dev: str | None = None,
        metric: int | None = None,
    ) -> None:
        """Remove from the main table; ESRCH if no route matches."""

    @abc.abstractmethod
    def route_list(self, ns: str) -> list[Route]:
        """The main table, IPv4."""

    def route_list_local(self, ns: str) -> list[Route]:
        """The local table (`ip route show table local`): the `local` route of every address
        and the `broadcast` routes, in the kernel's dump order. A backend that cannot list it
        raises NotImplementedError (the command line refuses loudly)."""
        raise NotImplementedError("route_list_local")

    @abc.abstractmethod
    def route_get(self, ns: str, dst: str) -> RouteDecision:
        """The route a packet to `dst` takes (`ip route get`); ENETUNREACH if none."""

    # -- neighbours and FDB ------------------------------------------------------------------
    @abc.abstractmethod
    def neigh_list(self, ns: str, ifname: str | None = None) -> list[Neighbour]: ...

    @abc.abstractmethod
    def neigh_flush(self, ns: str, ifname: str | None = None) -> None:
        """Remove the non-permanent neighbour entries."""

    def neigh_set(self, ns: str, ifname: str, ip: str, mac: str | None, state: NeighState,
                  *, create: bool, exclusive: bool) -> None:
        """`ip neigh add|replace|change`: set the entry for `ip` on `ifname` (RTM_NEWNEIGH:
        `create` = NLM_F_CREATE, `exclusive` = NLM_F_EXCL; EEXIST / ENOENT as the kernel).
        A backend that cannot raises NotImplementedError (the command line refuses loudly)."""
        raise NotImplementedError("neigh_set")

    def neigh_delete(self, ns: str, ifname: str, ip: str) -> None:
        """`ip neigh del`: remove the entry (ENOENT if there is none)."""
        raise NotImplementedError("neigh_delete")

    @abc.abstractmethod
    def fdb_list(self, ns: str, bridge: str | None = None) -> list[FdbEntry]:
        """The bridge FDB entries (the bridge's, not the devices' own "self" entries)."""

    @abc.abstractmethod
    def fdb_add(self, ns: str, port: str, mac: str) -> None:
        """A static entry: `mac` is behind `port` (`bridge fdb add MAC dev PORT master static`)."""

    @abc.abstractmethod
    def fdb_delete(self, ns: str, port: str, mac: str) -> None:
        """Remove an entry; ENOENT if there is none."""

    def fdb_set(self, ns: str, port: str, mac: str, *, kind: str, replace: bool) -> None:
        """`bridge fdb add|replace MAC dev PORT master [permanent|static|dynamic]`: `kind`
        "permanent" (a local entry: frames to MAC go up to the bridge, not out of PORT),
        "static" (forwarded to PORT, never aged) or "dynamic" (aged like a learned one);
        `replace`: NLM_F_REPLACE, else EEXIST for an existing entry. A backend that cannot
        raises NotImplementedError (the command line refuses loudly)."""
        raise NotImplementedError("fdb_set")

    # -- sysctls -------------------------------------------------------------------------
    @abc.abstractmethod
    def sysctl_get(self, ns: str, key: str) -> str:
        """A sysctl of the namespace, dotted ("net.ipv4.ip_forward"); ENOENT if unknown."""

    @abc.abstractmethod
    def sysctl_set(self, ns: str, key: str, value: str) -> None: ...

    # -- troubleshooting (capabilities "capture" and "trace") ---------------------------------
    def capture_start(self, ns: str, ifname: str, *, filter: str | None = None) -> Capture:
        """Capture the frames `ifname` sends and receives from now on, as Ethernet frames;
        `filter` is a pcap-filter expression (host, net, port, tcp/udp/icmp/arp, and/or/not).
        ENODEV if there is no such device."""
        raise from_errno(errno.EOPNOTSUPP, f"backend {self.name!r} cannot capture",
                         ja=f"バックエンド {self.name!r} はパケットをキャプチャできません")

    def trace(self, ns: str, dst: str, *, proto: str = "icmp", port: int | None = None,
              timeout: float = 1.0) -> PacketTrace:
        """Send one probe (ICMP echo, TCP connect or UDP datagram) from `ns` to `dst` and
        follow it and its reply hop by hop. The world is expected to be otherwise quiet."""
        raise from_errno(errno.EOPNOTSUPP, f"backend {self.name!r} cannot trace",
                         ja=f"バックエンド {self.name!r} はトレースできません")

    # -- netfilter -----------------------------------------------------------------------
    @abc.abstractmethod
    def iptables_restore(
        self, ns: str, text: str, *, noflush: bool = True, test: bool = False
    ) -> None:
        """Apply `iptables-restore` text atomically: one bad line and nothing changes (the error
        names it). `noflush` keeps what the tables hold; `test` only checks the text."""

    @abc.abstractmethod
    def iptables_save(
        self, ns: str, *, table: str | None = None, counters: bool = False
    ) -> str:
        """The namespace's rules as `iptables-save [-t TABLE] [-c]` prints them (no comment or
        timestamp lines)."""

    @abc.abstractmethod
    def iptables_zero(self, ns: str, *, table: str = "filter", chain: str | None = None) -> None:
        """Zero packet and byte counters (`iptables -t TABLE -Z [CHAIN]`)."""

    @abc.abstractmethod
    def ebtables(self, ns: str, argv: list[str]) -> str:
        """Run one `ebtables` command on the filter table (e.g. ["-A", "FORWARD", "-s", "!",
        MAC, "-i", PORT, "-j", "DROP"]) and return what it prints (for -L)."""

    @abc.abstractmethod
    def ebtables_restore(self, ns: str, text: str, *, noflush: bool = True) -> None:
        """Apply `ebtables-restore` text (`*filter`, `-A CHAIN …` / `-D CHAIN …` lines,
        `COMMIT`) atomically: one bad line and nothing changes, the error (with `ebtables`'
        errno: ENOENT for a -D of a rule that is not there) naming it. `noflush` keeps what
        the table holds."""

    @abc.abstractmethod
    def conntrack_list(self, ns: str) -> list[ConntrackEntry]:
        """The namespace's conntrack table (`conntrack -L`)."""

    @abc.abstractmethod
    def conntrack_flush(self, ns: str) -> None: ...

    # -- traffic control -----------------------------------------------------------------
    @abc.abstractmethod
    def tc_tbf_set(
        self, ns: str, dev: str, *, rate_bps: int, burst: int, latency: float
    ) -> None:
        """Make a token-bucket filter the root qdisc of `dev` (replace semantics)."""

    @abc.abstractmethod
    def tc_qdisc_delete(self, ns: str, dev: str) -> None:
        """Remove the root qdisc; ENOENT when the device has only its default one."""

    @abc.abstractmethod
    def tc_qdisc_get(self, ns: str, dev: str) -> Qdisc:
        """The root qdisc of `dev` (the default one when none was set)."""

    # -- transport probes ----------------------------------------------------------------
    @abc.abstractmethod
    def listen(self, ns: str, proto: Proto, port: int, address: str = "0.0.0.0") -> Listener:
        """A listener in `ns`: TCP accepts and reads until EOF (answering a transfer with the
        byte count), UDP echoes each datagram; both record the source address and port of
        every peer. EADDRINUSE if the port is taken."""

    @abc.abstractmethod
    def connect(
        self,
        ns: str,
        proto: Proto,
        dst: str,
        port: int,
        *,
        timeout: float = 1.0,
        payload: bytes = b"ctrnet",
    ) -> ConnectResult:
        """Connect from `ns` (TCP: handshake, send payload, close; UDP: send payload, wait for
        the echo) and say how it ended."""

    @abc.abstractmethod
    def transfer(
        self, ns: str, dst: str, port: int, nbytes: int, *, timeout: float = 30.0
    ) -> TransferResult:
        """Send `nbytes` over TCP to a listener and time it until the listener has them all."""

    # -- per-namespace files (iproute2's /etc/netns/NAME/ convention) -----------------------
    @abc.abstractmethod
    def etc_write(self, ns: str, filename: str, text: str) -> None:
        """Write /etc/netns/NS/FILENAME (e.g. "resolv.conf"), which `ip netns exec` shows the
        namespace's programs as /etc/FILENAME. Kernel: a real file, removed with the namespace;
        simulator: a virtual file. ENOENT if the namespace does not exist."""

    @abc.abstractmethod
    def etc_read(self, ns: str, filename: str) -> str | None:
        """The file's text, or None when there is none."""

    @abc.abstractmethod
    def etc_delete(self, ns: str, filename: str) -> None:
        """Remove the file; idempotent."""

    # -- probes and clock --------------------------------------------------------------------
    @abc.abstractmethod
    def ping(
        self,
        ns: str,
        dst: str,
        *,
        count: int = 1,
        timeout: float = 1.0,
        interval: float = 0.2,
        size: int = 56,
    ) -> PingResult:
        """Send `count` ICMP echo requests of `size` data bytes (ping -s), `interval` apart,
        and wait up to `timeout` after the last for replies. Raises Unreachable (ENETUNREACH)
        when there is no route at all, as sendto(2) does."""

    @abc.abstractmethod
    def sleep(self, seconds: float) -> None:
        """Let time pass: the kernel sleeps, the simulator advances its virtual clock."""

    @abc.abstractmethod
    def now(self) -> float:
        """Seconds on this backend's clock (monotonic)."""
