"""TCP of the simulated stack: real segments (SYN, SYN-ACK, ACK, data of at most one MSS,
FIN, RST) through the namespace's IPv4 path, so conntrack, NAT and qdiscs see real flows.

Enough of RFC 9293 for probes and bulk transfers: the three-way handshake with SYN
retransmission (1 s, doubling), the close states down to TIME_WAIT, a receiver that ACKs every
segment with SACK blocks, and a sender with slow start, congestion avoidance, SACK-based loss
recovery and a retransmission timeout (RFC 5681/6675/6298, as Linux does them in spirit).
The receive window is unlimited. Timers are scheduled on the world's virtual clock.

Layering: a transport above the IPv4 path (segments leave through `ipv4.ip_local_out`). The
socket tables are above it (`sockets.py` makes connections and demultiplexes segments to
them): a connection reaches its table and listener through the small interfaces declared
here (`SockTable`, `TcpListener`, as the kernel's sockets call back through struct proto and
sk callbacks), so this module imports nothing of them.
"""

from __future__ import annotations

from enum import Enum
from errno import ECONNREFUSED, ECONNRESET
from typing import Protocol

from ctrnet.backends.sim.devices import Namespace, RootQdisc
from ctrnet.backends.sim.ipv4 import ip_local_out, route_output
from ctrnet.backends.sim.packet import (
    IPPROTO_TCP,
    TCP_ACK,
    TCP_FIN,
    TCP_PSH,
    TCP_RST,
    TCP_SYN,
    IPv4,
    Tcp,
)
from ctrnet.backends.sim.world import World
from ctrnet.errors import BackendError

TCP_TIMEOUT_INIT = 1.0  # initial RTO and SYN retransmission (RFC 6298, TCP_TIMEOUT_INIT)
TCP_RTO_MIN = 0.2
TCP_RTO_MAX = 120.0
INIT_CWND = 10  # segments (RFC 6928)
#: Option bytes on every data segment (timestamps): the MSS a segment really carries is
#: the advertised one minus these, as on Linux (1460 -> 1448).
TIMESTAMP_OPTION = 12
#: Ethernet, IPv4 and TCP (with timestamps) headers around a data segment's payload.
FRAME_OVERHEAD = 14 + 20 + 20 + TIMESTAMP_OPTION


class SockTable(Protocol):
    """What a connection needs of its namespace's socket table (`sockets.Sockets`)."""

    def forget(self, conn: TcpConn) -> None:
        """The connection is closed: it leaves the table."""

    def wake(self) -> None:
        """Something a waiting probe may care about happened."""


class TcpListener(Protocol):
    """What a connection tells the listener it was accepted by (`sockets.SimListener`)."""

    def accepted(self, conn: TcpConn) -> None:
        """The handshake completed."""

    def got(self, size: int) -> None:
        """`size` bytes arrived in order."""

    def eof(self, conn: TcpConn) -> None:
        """The peer closed its side."""


class State(Enum):
    CLOSED = "CLOSED"
    SYN_SENT = "SYN_SENT"
    SYN_RECV = "SYN_RECV"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT1 = "FIN_WAIT1"
    FIN_WAIT2 = "FIN_WAIT2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"


class Timer:
    """A retransmission timer event (picklable, unlike a closure): fires only if the
    connection has not re-armed or cancelled it since."""

    __slots__ = ("conn", "generation")

    def __init__(self, conn: TcpConn, generation: int) -> None:
        self.conn = conn
        self.generation = generation

    def __call__(self) -> None:
        if self.conn.timer_generation == self.generation:
            self.conn.timer_pending = False
            self.conn.on_timer()


class Wakeup:
    """A sender held back by its device's full queue tries again (picklable timer)."""

    __slots__ = ("conn",)

    def __init__(self, conn: TcpConn) -> None:
        self.conn = conn

    def __call__(self) -> None:
        self.conn.waiting = False
        self.conn._push()


class Deferred:
    """A segment waiting for room in the local qdisc (picklable timer)."""

    __slots__ = ("conn", "packet")

    def __init__(self, conn: TcpConn, packet: IPv4) -> None:
        self.conn = conn
        self.packet = packet

    def __call__(self) -> None:
        self.conn.output(self.packet)


class TcpConn:
    """One end of a TCP connection."""

    def __init__(self, world: World, ns: Namespace, table: SockTable, laddr: int, lport: int,
                 raddr: int, rport: int, mss: int, iss: int) -> None:
        self.world, self.ns, self.table = world, ns, table
        self.laddr, self.lport, self.raddr, self.rport = laddr, lport, raddr, rport
        self.state = State.CLOSED
        self.mss = mss
        self.iss = iss
        self.snd_una = self.snd_nxt = iss
        self.tx_len = 0  # bytes written by the application
        self.tx_bytes = b""  # their content, where it matters (probes; not bulk data)
        self.fin_queued = False
        self.fin_sent = False
        self.rcv_nxt = 0
        self.irs = 0
        self.ooo: dict[int, tuple[int, bytes]] = {}  # seq -> (end, data), out of order
        self.fin_at: int | None = None
        self.rx_count = 0
        self.rx_bytes = bytearray()
        self.peer_fin = False
        self.error: int | None = None  # errno that ended the connection
        self.listener: TcpListener | None = None
        # congestion control
        self.cwnd = INIT_CWND * mss
        self.ssthresh = 1 << 60
        self.dupacks = 0
        self.in_recovery = False
        self.loss = False  # recovering from a retransmission timeout
        self.recover = 0
        self.sacked: set[int] = set()
        self.high_sack = 0
        self.retransmitted: set[int] = set()
        self.sent_at: dict[int, float] = {}  # last transmission of each outstanding segment
        self.rack_ts = 0.0  # latest transmission time of a segment known delivered
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = TCP_TIMEOUT_INIT
        self.timer_generation = 0
        self.syn_retries = 0
        self.waiting = False  # for room in the local qdisc
        self.timer_pending = False

    # -- output ---------------------------------------------------------------------------
    @property
    def data_start(self) -> int:
        return self.iss + 1

    @property
    def tx_end(self) -> int:
        return self.data_start + self.tx_len

    def _send(self, flags: int, seq: int, size: int = 0, mss: int = 0) -> None:
        data = b""
        if size:
            offset = seq - self.data_start
            if offset < len(self.tx_bytes):
                data = self.tx_bytes[offset:offset + size]
            flags |= TCP_PSH if seq + size == self.tx_end else 0
        ack = self.rcv_nxt if flags & TCP_ACK else 0
        sack = tuple((s, e) for s, (e, _) in sorted(self.ooo.items())) if flags & TCP_ACK else ()
        seg = Tcp(self.lport, self.rport, seq, ack, flags, size, data, mss, sack)
        packet = IPv4(self.laddr, self.raddr, IPPROTO_TCP, seg, ident=self.world.next_ip_id())
        self.output(packet)

    def output(self, packet: IPv4) -> None:
        """Hand a segment to IP, unless the local device's queue is full: then it waits for
        room, as a socket's skb does under qdisc backpressure (never dropped locally)."""
        qdisc = self._qdisc()
        if qdisc is not None:
            now = self.world.clock.now()
            room = qdisc.room_at(now, packet.length() + 14)
            if room > now:
                self.world.schedule(room, Deferred(self, packet))
                return
        ip_local_out(self.world, self.ns, packet)

    def _arm(self, delay: float | None) -> None:
        self.timer_generation += 1
        self.timer_pending = delay is not None
        if delay is not None:
            self.world.schedule(self.world.clock.now() + delay, Timer(self, self.timer_generation))

    def connect(self) -> None:
        self.state = State.SYN_SENT
        self.snd_nxt = self.iss + 1
        self._send(TCP_SYN, self.iss, mss=self.mss + TIMESTAMP_OPTION)
        self._arm(TCP_TIMEOUT_INIT)

    def accept_syn(self, seg: Tcp, listener: TcpListener) -> None:
        """A listener's child, answering the SYN that made it."""
        self.listener = listener
        self.state = State.SYN_RECV
        self.irs = seg.seq
        self.rcv_nxt = seg.seq + 1
        if seg.mss:
            self.mss = min(self.mss, seg.mss - TIMESTAMP_OPTION)
        self.snd_nxt = self.iss + 1
        self._send(TCP_SYN | TCP_ACK, self.iss, mss=self.mss + TIMESTAMP_OPTION)

    def write(self, data: bytes = b"", size: int = 0) -> None:
        """Queue `data` (or `size` bytes whose content does not matter) for sending."""
        if data:
            if len(self.tx_bytes) != self.tx_len:
                raise ValueError("content after content-less bytes")
            self.tx_bytes += data
            self.tx_len += len(data)
        self.tx_len += size
        self._push()

    def shutdown(self) -> None:
        """No more data: a FIN follows what is queued."""
        self.fin_queued = True
        self._push()

    def abort(self) -> None:
        """close() of a socket that never connected: it just goes (no RST in SYN_SENT)."""
        self._arm(None)
        self.state = State.CLOSED
        self.table.forget(self)

    def _in_flight(self) -> int:
        """RFC 6675 `pipe`: what is in the network. In recovery the holes below the highest
        SACK are lost, not in flight; what was retransmitted is."""
        if self.in_recovery and self.high_sack > self.snd_una:
            return max(self.snd_nxt - self.high_sack, 0) + len(self.retransmitted) * self.mss
        return self.snd_nxt - self.snd_una - len(self.sacked) * self.mss

    def _qdisc(self) -> RootQdisc | None:
        try:
            return route_output(self.ns, self.raddr).dev.qdisc
        except BackendError:
            return None

    def _push(self) -> None:
        if self.state not in (State.ESTABLISHED, State.CLOSE_WAIT) or self.waiting:
            return
        now = self.world.clock.now()
        sent = False
        qdisc = self._qdisc() if self.snd_nxt < self.tx_end else None
        while self.snd_nxt < self.tx_end and self._in_flight() < self.cwnd:
            size = min(self.mss, self.tx_end - self.snd_nxt)
            if qdisc is not None:
                # A local sender is not dropped by its own device's full queue: TCP small
                # queues and qdisc backpressure make it wait for room instead.
                room = qdisc.room_at(now, size + FRAME_OVERHEAD)
                if room > now:
                    self.waiting = True
                    self.world.schedule(room, Wakeup(self))
                    break
            self.sent_at[self.snd_nxt] = now
            self._send(TCP_ACK, self.snd_nxt, size)
            self.snd_nxt += size
            sent = True
        if self.fin_queued and not self.fin_sent and self.snd_nxt == self.tx_end:
            self.fin_sent = True
            self._send(TCP_FIN | TCP_ACK, self.snd_nxt)
            self.snd_nxt += 1
            self.state = State.FIN_WAIT1 if self.state is State.ESTABLISHED else State.LAST_ACK
            sent = True
        if sent and self.snd_una < self.snd_nxt and not self.timer_pending:
            self._arm(self.rto)  # tcp_event_new_data_sent: only if no timer runs yet

    def _segment_size(self, seq: int) -> int:
        if seq >= self.tx_end:
            return 0  # the FIN
        return min(self.mss, self.tx_end - seq)

    def _retransmit(self, seq: int) -> None:
        self.retransmitted.add(seq)
        self.sent_at[seq] = self.world.clock.now()
        size = self._segment_size(seq)
        if size == 0:
            self._send(TCP_FIN | TCP_ACK, seq)
        else:
            self._send(TCP_ACK, seq, size)

    def _repair(self) -> None:
        """Retransmit the holes below the highest SACKed segment, once per recovery, as far
        as the congestion window lets (RFC 6675 NextSeg rule 1: repairs before new data)."""
        seq = self.snd_una
        while seq < self.high_sack and self._in_flight() < self.cwnd:
            size = self._segment_size(seq)
            if seq not in self.sacked and seq not in self.retransmitted:
                self._retransmit(seq)
            seq += size or 1

    def on_timer(self) -> None:
        if self.state is State.SYN_SENT:
            # tcp_retransmit_timer for a SYN: resend, the timeout doubling each time.
            self.syn_retries += 1
            self._send(TCP_SYN, self.iss, mss=self.mss + TIMESTAMP_OPTION)
            self._arm(TCP_TIMEOUT_INIT * 2 ** self.syn_retries)
            return
        if self.snd_una >= self.snd_nxt or self.state is State.CLOSED:
            return
        # RTO (tcp_enter_loss): everything not SACKed counts as lost; one segment goes at
        # once, the rest under a window growing in slow start again as ACKs come.
        flight = self.snd_nxt - self.snd_una
        self.ssthresh = max(flight // 2, 2 * self.mss)
        self.cwnd = self.mss
        self.in_recovery, self.recover, self.loss = True, self.snd_nxt, True
        self.high_sack = self.snd_nxt
        self.retransmitted.clear()
        self.rto = min(self.rto * 2, TCP_RTO_MAX)
        self._retransmit(self.snd_una)
        self._arm(self.rto)

    # -- input --------------------------------------------------------------------------------
    def receive(self, seg: Tcp) -> None:
        flags = seg.flags
        if flags & TCP_RST:
            self._reset()
            return
        if self.state is State.SYN_SENT:
            if flags & TCP_SYN and flags & TCP_ACK and seg.ack == self.iss + 1:
                self.irs, self.rcv_nxt = seg.seq, seg.seq + 1
                if seg.mss:
                    self.mss = min(self.mss, seg.mss - TIMESTAMP_OPTION)
                    self.cwnd = INIT_CWND * self.mss
                self.snd_una = seg.ack
                self.state = State.ESTABLISHED
                self._arm(None)
                self._send(TCP_ACK, self.snd_nxt)
                self.table.wake()
            return
        if flags & TCP_SYN:
            if self.state is State.SYN_RECV and seg.seq + 1 == self.rcv_nxt:
                self._send(TCP_SYN | TCP_ACK, self.iss, mss=self.mss + TIMESTAMP_OPTION)
            return  # a duplicate SYN
        if flags & TCP_ACK:
            if self.state is State.SYN_RECV:
                if seg.ack != self.iss + 1:
                    return
                self.snd_una = seg.ack
                self.state = State.ESTABLISHED
                if self.listener is not None:
                    self.listener.accepted(self)
            self._ack(seg)
        if seg.size or flags & TCP_FIN:
            self._data(seg)

    def _reset(self) -> None:
        self.error = ECONNREFUSED if self.state is State.SYN_SENT else ECONNRESET
        self._close()

    def _close(self) -> None:
        self._arm(None)
        self.state = State.CLOSED
        self.table.forget(self)
        self.table.wake()

    def icmp_error(self, errno_value: int) -> None:
        """tcp_v4_err: a destination-unreachable ends a connection still in SYN_SENT."""
        if self.state is State.SYN_SENT:
            self.error = errno_value
            self._close()

    def _ack(self, seg: Tcp) -> None:
        ack = seg.ack
        now = self.world.clock.now()
        sent_at = self.sent_at
        for start, end in seg.sack:
            seq = start
            while seq < end:
                if seq not in self.sacked:
                    self.sacked.add(seq)
                    self.rack_ts = max(self.rack_ts, sent_at.get(seq, 0.0))
                seq += self._segment_size(seq) or 1
            self.high_sack = max(self.high_sack, end)
        advanced = ack > self.snd_una
        newly = ack - self.snd_una
        if advanced:
            sample = sent_at.get(self.snd_una)
            if sample is not None and not self.in_recovery:
                self._rtt(now - sample)  # Karn: no samples from retransmissions
            self.snd_una = ack
            self.sacked = {s for s in self.sacked if s >= ack}
            self.retransmitted = {s for s in self.retransmitted if s >= ack}
            for seq in [s for s in sent_at if s < ack]:
                self.rack_ts = max(self.rack_ts, sent_at.pop(seq))
        # RACK (RFC 8985), simply: a retransmission sent before something since delivered
        # was lost again, and may go once more.
        for seq in [s for s in self.retransmitted if sent_at.get(s, now) < self.rack_ts]:
            self.retransmitted.discard(seq)
        if advanced:
            self.dupacks = 0
            if self.in_recovery:
                if self.loss and self.cwnd < self.ssthresh:
                    self.cwnd += min(newly, self.mss)
                if ack >= self.recover:
                    self.in_recovery = self.loss = False
                    self.cwnd = max(min(self.cwnd, self.ssthresh), self.mss)
                    self.retransmitted.clear()
            elif self.cwnd < self.ssthresh:
                self.cwnd += min(newly, self.mss)
            else:
                self.cwnd += max(self.mss * self.mss // self.cwnd, 1)
            self._arm(self.rto if self.snd_una < self.snd_nxt else None)
            self._acked_state()
        elif ack == self.snd_una and self.snd_nxt > self.snd_una and not seg.size \
                and not seg.flags & TCP_FIN:
            self.dupacks += 1
        if not self.in_recovery and self.snd_una < self.snd_nxt and (
                self.dupacks >= 3 or len(self.sacked) >= 3):
            flight = self.snd_nxt - self.snd_una
            self.ssthresh = max(flight // 2, 2 * self.mss)
            self.cwnd = self.ssthresh
            self.in_recovery, self.recover = True, self.snd_nxt
            self.retransmitted.clear()
            if self.snd_una not in self.sacked:
                self._retransmit(self.snd_una)  # fast retransmit, whatever the window
        if self.in_recovery:
            self._repair()
        self._push()

    def _rtt(self, sample: float) -> None:
        if self.srtt is None:
            self.srtt, self.rttvar = sample, sample / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - sample)
            self.srtt = 0.875 * self.srtt + 0.125 * sample
        self.rto = min(max(self.srtt + 4 * self.rttvar, TCP_RTO_MIN), TCP_RTO_MAX)

    def _acked_state(self) -> None:
        if not self.fin_sent or self.snd_una < self.snd_nxt:
            return
        if self.state is State.FIN_WAIT1:
            self.state = State.FIN_WAIT2
        elif self.state is State.CLOSING:
            self._time_wait()
        elif self.state is State.LAST_ACK:
            self._close()

    def _time_wait(self) -> None:
        # TIME_WAIT lasts 60 s on Linux; nothing in a probe needs the socket meanwhile.
        self._arm(None)
        self.state = State.TIME_WAIT
        self.table.forget(self)
        self.table.wake()

    def _data(self, seg: Tcp) -> None:
        end = seg.seq + seg.size
        if seg.flags & TCP_FIN:
            self.fin_at = end
        if seg.size:
            if seg.seq == self.rcv_nxt:
                self._take(seg.size, seg.data)
                while self.rcv_nxt in self.ooo:
                    stop, data = self.ooo.pop(self.rcv_nxt)
                    self._take(stop - self.rcv_nxt, data)
            elif seg.seq > self.rcv_nxt:
                self.ooo[seg.seq] = (end, seg.data)
        fin = self.fin_at is not None and self.rcv_nxt == self.fin_at and not self.peer_fin
        if fin:
            self.rcv_nxt += 1
            self.peer_fin = True
        self._send(TCP_ACK, self.snd_nxt)
        if fin:
            self._peer_closed()

    def _take(self, size: int, data: bytes) -> None:
        self.rcv_nxt += size
        self.rx_count += size
        if data:
            self.rx_bytes += data
        if self.listener is not None:
            self.listener.got(size)

    def _peer_closed(self) -> None:
        if self.state is State.ESTABLISHED:
            self.state = State.CLOSE_WAIT
            if self.listener is not None:
                self.listener.eof(self)
        elif self.state is State.FIN_WAIT2:
            self._time_wait()
        elif self.state is State.FIN_WAIT1:
            self.state = State.CLOSING
        self.table.wake()
