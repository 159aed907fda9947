"""A world shared with a plugin process: the grader serves its Backend on a unix socket and
`ctrnet-cni`, run as a CNI plugin by the grader, acts on that same world through it.

This is how ctrnet's own model is graded as a CNI plugin on both backends: on the simulator
there is no kernel a separate process could reach, and on the kernel the world's namespaces
belong to the grader's KernelBackend. Requests are pickled method calls, answered one at a
time under a lock (neither backend is thread-safe); the socket lives in a private directory
(0700) and only the grader's own child processes are given its path. An error the world
raises reaches the plugin as it was raised: its kind, English and Japanese wordings, errno
and attributes (`CtrnetError.__reduce__`).
"""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import socket
import struct
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctrnet.backend import THREAD_SAFE, Backend
from ctrnet.errors import CtrnetError

#: The environment variable that gives a plugin process the socket's path.
SOCKET_ENV = "CTRNET_WORLD_SOCKET"
_HEADER = struct.Struct("!Q")


def _send(sock: socket.socket, obj: object) -> None:
    data = pickle.dumps(obj)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _recv(sock: socket.socket) -> Any:
    header = _read(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    body = _read(sock, size)
    if body is None:
        raise ConnectionError("the world server closed the connection mid-answer")
    return pickle.loads(body)  # noqa: S301 - our own child processes only (see above)


def _read(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _portable(exc: CtrnetError) -> CtrnetError:
    """`exc` as it can be sent: itself, or, when an attribute of it cannot be pickled, the
    same kind with the same wordings and errno, without its attributes."""
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - whatever pickle refuses
        bare = copy.copy(exc)
        bare.__dict__ = {"errno": exc.errno, "message_ja": exc.message_ja}
        return bare
    return exc


class BackendServer:
    """Serves `backend` to plugin processes until `close`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="ctrnet-world-"))
        self.socket_path = str(self._dir / "sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(64)
        self._closing = False
        threading.Thread(target=self._accept, name="ctrnet-world", daemon=True).start()

    def env(self) -> dict[str, str]:
        return {SOCKET_ENV: self.socket_path}

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    request = _recv(conn)
                except (OSError, ConnectionError, pickle.UnpicklingError):
                    return
                if request is None:
                    return
                method, args, kwargs = request
                try:
                    with self.lock:
                        value = self._answer(method, args, kwargs)
                    reply: tuple[str, object] = ("ok", value)
                except CtrnetError as exc:
                    reply = ("error", _portable(exc))
                except Exception as exc:  # noqa: BLE001 - reported to the plugin, not raised here
                    said = f"{type(exc).__name__}: {exc}"  # Python's own words, in both
                    reply = ("error", CtrnetError(said, 0, ja=said))
                try:
                    _send(conn, reply)
                except OSError:
                    return

    def _answer(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        if method == "__info__":
            return self.backend.name, self.backend.capabilities, self.backend.host_ns
        if method == "__resolve__":
            return self.resolve(str(args[0]))
        if method.startswith("_") or method == "close":
            raise CtrnetError(f"{method} is not served",
                              ja=f"{method} はこのサーバでは扱いません")
        action: Callable[..., object] = getattr(self.backend, method)
        return action(*args, **kwargs)

    def resolve(self, path: str) -> str | None:
        """The world's namespace that CNI_NETNS `path` names, or None."""
        base = os.path.basename(path.rstrip("/"))
        for ns in self.backend.netns_list():
            if base == os.path.basename(self.backend.netns_path(ns)):
                return ns
        return None

    def close(self) -> None:
        self._closing = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        shutil.rmtree(self._dir, ignore_errors=True)


class RemoteBackend(Backend):
    """The Backend a plugin process gets: every call is answered by the grader's world."""

    @classmethod
    def open(cls, socket_path: str) -> RemoteBackend:
        """Connect to the world served at `socket_path`."""
        return cls(socket_path)

    def __init__(self, socket_path: str) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(socket_path)
        name, capabilities, host = self._call("__info__")
        self.name = name
        # One socket, one request at a time: calls from two threads would interleave on it.
        self.capabilities = capabilities - {THREAD_SAFE}
        self._host = host

    @property
    def host_ns(self) -> str:
        return str(self._host)

    def _call(self, method: str, *args: object, **kwargs: object) -> Any:
        _send(self._sock, (method, args, kwargs))
        reply = _recv(self._sock)
        if reply is None:
            raise CtrnetError("the world server went away",
                              ja="世界のサーバがいなくなりました")
        status, value = reply
        if status == "ok":
            return value
        if not isinstance(value, CtrnetError):
            raise CtrnetError(f"the world server answered {value!r}",
                              ja=f"世界のサーバの応答が不正です: {value!r}")
        raise value

    def resolve(self, netns_path: str) -> str | None:
        """The world's namespace CNI_NETNS names (None when it is gone)."""
        ns: str | None = self._call("__resolve__", netns_path)
        return ns

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)


def _forwarder(method: str) -> Callable[..., Any]:
    def forward(self: RemoteBackend, *args: object, **kwargs: object) -> Any:
        return self._call(method, *args, **kwargs)

    forward.__name__ = method
    return forward


for _method in sorted(Backend.__abstractmethods__ - {"close"}):
    setattr(RemoteBackend, _method, _forwarder(_method))
RemoteBackend.__abstractmethods__ = frozenset()
