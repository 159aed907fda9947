"""TCP/UDP probes in a namespace without a process per probe.

A socket belongs to the network namespace it was created in, for its whole life: the calling
thread enters the namespace only to create it (`nsfs.entered`), and everything after —
connect, accept, send, serving a listener from a daemon thread — happens from anywhere in
this process. A listener serves all its connections from one thread with a selector. A TCP
connect waits for the listener to hang up (after it answers with its byte count), so when it
returns the listener has recorded the peer and the payload.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import struct
import threading
import time

from ctrnet.backend import Listener
from ctrnet.errors import from_errno
from ctrnet.types import ConnectOutcome, ConnectResult, Endpoint, Proto, TransferResult

from . import nsfs

_CHUNK = 1 << 16
_COUNT = struct.Struct("!Q")  # a transfer's answer: bytes received, 8 bytes big-endian
_UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH)


def _socket(netns_fd: int, proto: Proto) -> socket.socket:
    kind = socket.SOCK_STREAM if proto is Proto.TCP else socket.SOCK_DGRAM
    with nsfs.entered(netns_fd):
        return socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)


class KernelListener(Listener):
    """A listening socket in a namespace, served by a daemon thread of this process."""

    def __init__(self, netns_fd: int, ns: str, proto: Proto, port: int, address: str) -> None:
        self.ns, self.proto, self.address = ns, proto, address
        self._peers: list[Endpoint] = []
        self._received = 0
        self._lock = threading.Lock()
        self._sock = _socket(netns_fd, proto)
        try:
            if proto is Proto.TCP:
                # Only past connections in TIME_WAIT are overlooked: a live listener on the
                # port is still EADDRINUSE. (On UDP the flag would let two sockets share it.)
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((address, port))
            if proto is Proto.TCP:
                self._sock.listen(128)
            self._sock.setblocking(False)
        except OSError as err:
            self._sock.close()
            raise from_errno(err.errno or errno.EIO,
                             f"{proto} listener on {address}:{port} in namespace {ns}") from err
        self.port = int(self._sock.getsockname()[1])
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name=f"ctrnet-{proto}-listener-{ns}:{self.port}")
        self._thread.start()

    def peers(self) -> list[Endpoint]:
        with self._lock:
            return list(self._peers)

    def received(self) -> int:
        with self._lock:
            return self._received

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5.0)
        os.close(self._wake_w)

    # -- the serving thread ----------------------------------------------------------------
    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        connections: dict[socket.socket, int] = {}  # connection -> bytes it brought
        selector.register(self._wake_r, selectors.EVENT_READ)
        selector.register(self._sock, selectors.EVENT_READ)
        try:
            while True:
                for key, _ in selector.select():
                    if key.fileobj == self._wake_r:
                        return
                    if key.fileobj is self._sock and self.proto is Proto.UDP:
                        self._echo()
                    elif key.fileobj is self._sock:
                        self._accept(selector, connections)
                    else:
                        conn = key.fileobj
                        assert isinstance(conn, socket.socket)
                        self._read(selector, connections, conn)
        finally:
            for conn in connections:
                conn.close()
            selector.close()
            self._sock.close()
            os.close(self._wake_r)

    def _echo(self) -> None:
        try:
            data, (ip, port) = self._sock.recvfrom(_CHUNK)
        except (BlockingIOError, ConnectionRefusedError):
            return  # an ICMP error queued on the socket, or a spurious wakeup
        with self._lock:
            self._peers.append(Endpoint(ip, port))
            self._received += len(data)
        try:
            self._sock.sendto(data, (ip, port))
        except OSError:
            pass  # the peer cannot be reached back (e.g. no route): it sees a timeout

    def _accept(self, selector: selectors.BaseSelector,
                connections: dict[socket.socket, int]) -> None:
        try:
            conn, (ip, port) = self._sock.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        with self._lock:
            self._peers.append(Endpoint(ip, port))
        connections[conn] = 0
        selector.register(conn, selectors.EVENT_READ)

    def _read(self, selector: selectors.BaseSelector, connections: dict[socket.socket, int],
              conn: socket.socket) -> None:
        try:
            data = conn.recv(_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # reset by the peer: the connection is over
        if data:
            connections[conn] += len(data)
            with self._lock:
                self._received += len(data)
            return
        # EOF: the sender is done; tell it how much arrived, then hang up.
        selector.unregister(conn)
        count = connections.pop(conn)
        try:
            conn.setblocking(True)
            conn.settimeout(1.0)
            conn.sendall(_COUNT.pack(count))
        except OSError:
            pass  # a plain connect() may have gone already
        conn.close()


def connect(netns_fd: int, proto: Proto, dst: str, port: int, *, timeout: float,
            payload: bytes) -> ConnectResult:
    sock = _socket(netns_fd, proto)
    with sock:
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            sock.connect((dst, port))
            local = _local(sock)
            if proto is Proto.TCP:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
                reply = _read_to_eof(sock, deadline)
            else:
                sock.send(payload)
                reply = sock.recv(_CHUNK)
        except TimeoutError:
            return ConnectResult(ConnectOutcome.TIMEOUT, _local_or_none(sock))
        except ConnectionRefusedError:
            return ConnectResult(ConnectOutcome.REFUSED, _local_or_none(sock))
        except OSError as err:
            if err.errno in _UNREACHABLE:
                return ConnectResult(ConnectOutcome.UNREACHABLE, _local_or_none(sock))
            raise from_errno(err.errno or errno.EIO,
                             f"{proto} connect to {dst}:{port}") from err
        return ConnectResult(ConnectOutcome.CONNECTED, local, reply)


def _read_to_eof(sock: socket.socket, deadline: float) -> bytes:
    """What a TCP listener answers before it closes (our listeners: the byte count). Waiting
    for its close means the listener has recorded the peer and the payload when we return."""
    chunks = []
    while True:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            chunk = sock.recv(_CHUNK)
        except TimeoutError:
            break  # connected all the same; the far side just did not hang up in time
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _local(sock: socket.socket) -> Endpoint:
    ip, port = sock.getsockname()
    return Endpoint(ip, int(port))


def _local_or_none(sock: socket.socket) -> Endpoint | None:
    try:
        local = _local(sock)
    except OSError:
        return None
    return local if local.port else None


def transfer(netns_fd: int, dst: str, port: int, nbytes: int, *,
             timeout: float) -> TransferResult:
    what = f"transfer of {nbytes} bytes to {dst}:{port}"
    sock = _socket(netns_fd, Proto.TCP)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((dst, port))
            start = time.monotonic()
            block = memoryview(bytes(min(_CHUNK, max(nbytes, 1))))
            left = nbytes
            while left:
                sent = sock.send(block[: min(left, len(block))])
                left -= sent
            sock.shutdown(socket.SHUT_WR)
            answer = _read_exactly(sock, _COUNT.size)
            seconds = time.monotonic() - start
        except TimeoutError as err:
            raise from_errno(errno.ETIMEDOUT, f"{what}: timed out") from err
        except OSError as err:
            raise from_errno(err.errno or errno.EIO, what) from err
    if len(answer) != _COUNT.size:
        raise from_errno(errno.ECONNRESET, f"{what}: the listener hung up without a count")
    (count,) = _COUNT.unpack(answer)
    return TransferResult(nbytes=int(count), seconds=seconds)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data
