"""Where IPAM reservations live: the Store protocol, MemoryStore and FileStore.

A store only records who holds which address; the allocator (`ctrnet.ipam`) decides which
address to try. As in CNI's host-local plugin, "already taken" is an answer (`reserve` returns
False), not an error, and releasing a free address is a no-op. FileStore keeps one file per
address in a directory per network, so several processes can share a pool.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import socket
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from netaddr import IPAddress

from ctrnet.errors import InvalidConfig, from_errno, oserror_ja

__all__ = ["FileStore", "MemoryStore", "Store"]


class Store(Protocol):
    """What an allocator needs from the place that records reservations.

    Every method except `locked` and `close` is called inside ``with store.locked():``, the
    critical section that makes look-then-reserve atomic across threads (and, for FileStore,
    across processes). A store holds at most one address per owner.
    """

    @property
    def version(self) -> int:
        """A number that grows whenever the reservations change, by anyone: an allocator
        keeps a free map beside the store and catches up when this moved since it looked."""
        ...

    def changed_since(self, version: int) -> list[IPAddress] | None:
        """The addresses whose holder may have changed after `version`; None when the store
        cannot tell (too far back, or reloaded since), and the caller must look at all."""
        ...

    def locked(self) -> AbstractContextManager[object]:
        """The critical section; for a shared store, entering it also refreshes the view."""
        ...

    def allocations(self) -> dict[IPAddress, str]:
        """Every reservation, address -> owner."""
        ...

    def owner_of(self, address: IPAddress) -> str | None:
        """Who holds `address`, or None when it is free."""
        ...

    def address_of(self, owner: str) -> IPAddress | None:
        """The address `owner` holds, or None."""
        ...

    def reserve(self, address: IPAddress, owner: str) -> bool:
        """Record `address` for `owner`; False (nothing changed) when it is already taken.

        Also records `address` as the last reserved one, where the next search starts."""
        ...

    def release(self, address: IPAddress) -> str | None:
        """Forget the reservation of `address`; its former owner, or None if it was free."""
        ...

    def last_reserved(self) -> IPAddress | None:
        """The address most recently reserved (host-local's lastReservedIP), or None."""
        ...

    def close(self) -> None:
        """Give back what the store holds open. Idempotent."""
        ...


#: How many changes a store remembers for `changed_since`; an allocator further behind
#: than that rebuilds its free map from `allocations`.
CHANGE_LOG = 4096


class _Reservations:
    """The in-memory view both stores keep: address <-> owner, the cursor, and the addresses
    changed by the last CHANGE_LOG versions, so an allocator catches up without a rebuild."""

    def __init__(self) -> None:
        self._owners: dict[int, str] = {}
        self._addresses: dict[str, int] = {}
        self._last: int | None = None
        self._version = 0
        self._changes: deque[int] = deque(maxlen=CHANGE_LOG)  # changes[-1] made _version
        self._floor = 0  # the first version changed_since can answer for

    @property
    def version(self) -> int:
        return self._version

    def changed_since(self, version: int) -> list[IPAddress] | None:
        behind = self._version - version
        if version < self._floor or behind > len(self._changes):
            return None
        return [IPAddress(self._changes[-i], 4) for i in range(1, behind + 1)]

    def allocations(self) -> dict[IPAddress, str]:
        return {IPAddress(value, 4): owner for value, owner in self._owners.items()}

    def owner_of(self, address: IPAddress) -> str | None:
        return self._owners.get(int(address))

    def address_of(self, owner: str) -> IPAddress | None:
        value = self._addresses.get(owner)
        return None if value is None else IPAddress(value, 4)

    def last_reserved(self) -> IPAddress | None:
        return None if self._last is None else IPAddress(self._last, 4)

    def _remember(self, value: int, owner: str) -> None:
        # An address whose owner cannot be read stays reserved (held by ""): handing out an
        # address of unknown state could give one address to two containers.
        self._owners[value] = owner
        if owner:
            self._addresses.setdefault(owner, value)
        self._changed(value)

    def _forget(self, value: int) -> None:
        owner = self._owners.pop(value, None)
        if owner is not None:
            if self._addresses.get(owner) == value:
                del self._addresses[owner]
            self._changed(value)

    def _changed(self, value: int) -> None:
        self._version += 1
        self._changes.append(value)

    def _reset(self) -> None:
        """Forget everything: from now on, anything may have changed."""
        self._owners, self._addresses = {}, {}
        self._version += 1
        self._floor = self._version
        self._changes.clear()


class MemoryStore(_Reservations):
    """Reservations in two dicts, guarded by a thread lock: one process, gone when it exits."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def locked(self) -> AbstractContextManager[object]:
        return self._lock

    def reserve(self, address: IPAddress, owner: str) -> bool:
        value = int(address)
        if value in self._owners:
            return False
        self._remember(value, owner)
        self._last = value
        return True

    def release(self, address: IPAddress) -> str | None:
        # Idempotent on purpose: CNI DEL may be repeated, and a second release must succeed.
        owner = self._owners.get(int(address))
        if owner is not None:
            self._forget(int(address))
        return owner

    def close(self) -> None:
        pass


#: Files a writer creates before it links them into place; a writer killed in between
#: leaves one behind, which is never read as a reservation and is removed on load.
TMP_PREFIX = ".tmp."
LOCK_FILE = "lock"
STATE_FILE = "last_reserved_ip"
JOURNAL_FILE = "journal"
#: The state file is one fixed-size record: "CURSOR(15) EPOCH(16 hex) CRC32(8 hex)\n".
_STATE_SIZE = 42
_NEVER_WRITTEN = 0  # the epoch of an empty state file (a new directory)


def _name(value: int) -> str:
    """The dotted quad of an address; reservation files are named by it."""
    return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))


def _format_state(last: int | None, epoch: int) -> bytes:
    cursor = "" if last is None else _name(last)
    body = f"{cursor:<15} {epoch:016x}".encode("ascii")
    return body + f" {zlib.crc32(body):08x}\n".encode("ascii")


def _parse_state(record: bytes) -> tuple[int | None, int] | None:
    """(cursor, epoch) of a state record; None when it is torn or not ours."""
    if not record:
        return None, _NEVER_WRITTEN
    body = record[:32]
    try:
        if len(record) != _STATE_SIZE or int(record[33:41], 16) != zlib.crc32(body):
            return None
        epoch = int(body[16:32], 16)
    except ValueError:
        return None
    return _parse_ipv4(body[:15].decode("ascii").strip()), epoch


def _parse_ipv4(name: str) -> int | None:
    """The address a reservation file is named by, or None for any other file."""
    try:
        packed = socket.inet_pton(socket.AF_INET, name)
    except OSError:
        return None
    return int.from_bytes(packed, "big")


def _owner_in(data: bytes) -> str:
    """The owner a reservation file names: its first line (host-local adds the ifname after)."""
    return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def _owner_of(path: str, data: bytes) -> str:
    """The owner of the reservation file `path`; a file naming none is corrupt (a writer
    always writes its owner before the file appears), and an error: kept as reserved by
    nobody it could never be released, freed it could hand out an address in use."""
    owner = _owner_in(data)
    if not owner:
        raise InvalidConfig(f"reservation file {path} names no owner: remove it if no "
                            "container uses that address (then run `ctrnet gc`), or write "
                            "the container's name into it",
                            ja=f"予約ファイル {path} に所有者が書かれていません: そのアドレスを"
                               "使うコンテナがなければ削除し（その後 `ctrnet gc`）、あれば"
                               "コンテナの名前を書き込んでください")
    return owner


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class FileStore(_Reservations):
    """Reservations on disk, laid out like host-local's: ROOT/NETWORK/ holds

    - one file per reserved address, named by the address, holding the owner and a newline;
      these files are the truth, everything else only helps to read them fast;
    - ``lock``: flocked for the critical section, so processes never reserve one address twice;
    - ``journal``: each change appends the address it is about to touch, so another process
      re-reads just those files instead of the directory (a dirty list, not a log of values);
    - ``last_reserved_ip``: a fixed-size record with a CRC: the search cursor and the journal's
      epoch, which changes when the journal is cut short and then costs every process a load.
      It is overwritten in place (a rename would cost ext4 a data flush per change): a torn
      record fails its CRC and only costs a load.

    A reservation file is written and (with ``fsync=True``) synced under a temporary name and
    then hard-linked to its address: link() fails with EEXIST if the address is taken, and the
    file is complete the moment it becomes visible, so a process killed at any point leaves
    either no reservation or a whole one. `step_hook` is called between the steps (crash tests).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        network: str,
        *,
        fsync: bool = True,
        step_hook: Callable[[str], None] | None = None,
        journal_limit: int = 1 << 20,
    ) -> None:
        if not network or network in {".", ".."} or "/" in network or network.startswith("."):
            raise InvalidConfig(f"network name {network!r} cannot name a store directory",
                                ja=f"ネットワーク名 {network!r} は記録のディレクトリ名に"
                                   "できません")
        self.directory = Path(root) / network
        self._dir = str(self.directory)
        with self._os_errors():
            self.directory.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._step_hook = step_hook
        self._journal_limit = journal_limit
        super().__init__()
        self._tmp_names = itertools.count()
        self._epoch: int | None = None  # epoch our view matches; None: never loaded
        self._journal_seen = 0  # bytes of the journal our view includes
        self.loads = 0  # whole-directory reads so far (tests and benchmarks watch it)
        self._pid = os.getpid()
        self._thread_lock = threading.Lock()
        self._fds: tuple[int, int, int] | None = None  # lock, state, journal

    # -- the critical section ----------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self._forget_parent()
        with self._thread_lock, self._os_errors():
            if self._fds is None:
                flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
                self._fds = (
                    os.open(os.path.join(self._dir, LOCK_FILE), flags, 0o644),
                    os.open(os.path.join(self._dir, STATE_FILE), flags, 0o644),
                    os.open(os.path.join(self._dir, JOURNAL_FILE), flags | os.O_APPEND, 0o644),
                )
            lock_fd = self._fds[0]
            # flock, not fcntl record locks: those are per process and released when the
            # process closes *any* fd of the file; a flock belongs to the open file description.
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                self._refresh()
                yield
            finally:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _os_errors(self) -> Iterator[None]:
        """Disk trouble (EACCES, ENOSPC, EIO…) as ctrnet's typed error, naming the store."""
        try:
            yield
        except OSError as exc:
            err = exc.errno or errno.EIO
            raise from_errno(err, f"IPAM store {self._dir}: {exc.strerror or exc}",
                             ja=f"IPAM の記録 {self._dir}: {oserror_ja(exc)}") from exc

    def _forget_parent(self) -> None:
        """After fork, stop sharing the parent's lock file description, thread lock and view."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        self._thread_lock = threading.Lock()
        # Closing our copies leaves the parent's flock alone; a fresh open gets our own.
        self._close_files()
        self._epoch = None

    def _refresh(self) -> None:
        assert self._fds is not None
        _, state_fd, journal_fd = self._fds
        state = _parse_state(os.pread(state_fd, _STATE_SIZE + 1, 0))
        self._last = None if state is None else state[0]
        epoch = None if state is None else state[1]
        size = os.fstat(journal_fd).st_size
        if epoch is None or epoch != self._epoch or size < self._journal_seen:
            self._load()
        elif size > self._journal_seen:
            news = os.pread(journal_fd, size - self._journal_seen, self._journal_seen)
            if not self._replay(news):
                self._load()
        self._epoch = epoch
        self._journal_seen = size

    def _replay(self, news: bytes) -> bool:
        """Re-read the files of the addresses others wrote to the journal; False when a line
        is not an address (the torn tail of a writer killed mid-append): then load all."""
        lines = news.split(b"\n")
        # Each line is "@ADDRESS": a torn line glued to the next one holds two "@", which no
        # address parses, so a tear is always seen.
        values = {
            _parse_ipv4(line[1:].decode("ascii", "replace")) if line[:1] == b"@" else None
            for line in lines[:-1]
        }
        if lines[-1] or None in values:
            return False
        for value in values:
            assert value is not None
            self._forget(value)
            path = os.path.join(self._dir, _name(value))
            data = _read(path)
            if data is not None:
                self._remember(value, _owner_of(path, data))
        return True

    def _load(self) -> None:
        self._reset()
        with os.scandir(self._dir) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(TMP_PREFIX):
                    # Left by a writer killed before link. Writers only write while holding
                    # the flock we hold now, so nobody is still writing it.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                    continue
                value = _parse_ipv4(name)
                data = None if value is None else _read(entry.path)
                if value is not None and data is not None:
                    self._remember(value, _owner_of(entry.path, data))
        self.loads += 1

    # -- changes (inside locked) -----------------------------------------------------------
    def reserve(self, address: IPAddress, owner: str) -> bool:
        value = int(address)
        if value in self._owners:
            return False
        # Journal first: if we are killed after the link, others still re-read this address.
        self._journal(value)
        self._step("journaled")
        tmp = self._write_tmp(owner.encode() + b"\n")
        self._step("reservation-written")
        path = os.path.join(self._dir, _name(value))
        try:
            os.link(tmp, path)
        except FileExistsError:
            # Taken behind our view (a file not written through a FileStore): an outcome.
            self._remember(value, _owner_in(_read(path) or b""))
            return False
        finally:
            os.unlink(tmp)
        self._sync_dir()
        self._step("linked")
        self._remember(value, owner)
        self._write_state(value)
        return True

    def release(self, address: IPAddress) -> str | None:
        value = int(address)
        owner = self._owners.get(value)
        if owner is None:
            # Idempotent on purpose: CNI DEL may be repeated, and a second release must succeed.
            return None
        self._journal(value)
        self._step("journaled")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self._dir, _name(value)))
        self._sync_dir()
        self._step("unlinked")
        self._forget(value)
        return owner

    def close(self) -> None:
        with self._thread_lock:
            self._close_files()

    def _close_files(self) -> None:
        for fd in self._fds or ():
            os.close(fd)
        self._fds = None

    # -- files -----------------------------------------------------------------------------
    def _journal(self, value: int) -> None:
        assert self._fds is not None, "changes happen inside locked()"
        _, _, journal_fd = self._fds
        if self._journal_seen >= self._journal_limit or self._epoch in (None, _NEVER_WRITTEN):
            # A new epoch before the cut: a process that misses the cut sees the epoch change
            # and loads the directory, rather than reading past the end of a shorter journal.
            self._epoch = int.from_bytes(os.urandom(8), "big") or 1
            self._write_state(self._last)
            os.ftruncate(journal_fd, 0)
            self._journal_seen = 0
        line = f"@{_name(value)}\n".encode("ascii")
        # One write with O_APPEND; not fsynced: the journal only matters to live processes.
        if os.write(journal_fd, line) != len(line):
            raise OSError(f"short write to {self._dir}/{JOURNAL_FILE}")
        self._journal_seen += len(line)

    def _write_state(self, last: int | None) -> None:
        # Not fsynced: after a power loss every process starts with a load anyway, and a
        # stale cursor only moves where the next search starts.
        assert self._fds is not None and self._epoch is not None
        os.pwrite(self._fds[1], _format_state(last, self._epoch), 0)
        self._last = last

    def _write_tmp(self, data: bytes) -> str:
        path = os.path.join(self._dir, f"{TMP_PREFIX}{os.getpid()}.{next(self._tmp_names)}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return path

    def _sync_dir(self) -> None:
        # The new or removed directory entry survives a power loss only once the directory
        # itself is synced (fsync(2): syncing the file does not sync its entry).
        if not self._fsync:
            return
        fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _step(self, name: str) -> None:
        if self._step_hook is not None:
            self._step_hook(name)
