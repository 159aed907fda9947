"""The write-ahead journal: every operation says what it is about to do before doing it.

An operation (network create/rm, connect, disconnect, gc) begins by writing an entry,
`journal/ID.json`, naming the operation and its arguments, and ends by removing it. While it
runs, its process holds flock(2) on the entry: a live operation's entry is locked, a dead
one's (SIGKILL, a power cut, a crash) is not. The next command, whatever it is, takes the
world lock, finds the unlocked entries and completes or undoes their operations
(`NetworkManager.recover`) before it does its own work; `gc` leaves alone whatever a locked
entry names. An entry is written under a temporary name, locked, then renamed into place, so
nobody ever sees an entry that is not both whole and locked by its living owner.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctrnet.errors import InvalidConfig, oserror_ja
from ctrnet.safefiles import open_nofollow
from ctrnet.state import read_json

__all__ = ["FORMAT_VERSION", "JOURNAL_DIR", "Entry", "Journal"]

JOURNAL_DIR = "journal"
#: Version of an entry's format; an entry of another version is refused, not guessed at.
FORMAT_VERSION = 1
_OPERATIONS = frozenset({"network-create", "network-rm", "connect", "disconnect", "gc"})
_sequence = itertools.count(1)


@dataclass
class Entry:
    """One operation under way (ours, or a dead one being recovered): its lock is held."""

    id: str
    op: str
    args: dict[str, Any]
    path: Path
    fd: int


class Journal:
    """The entries under ROOT/journal."""

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.folder = root / JOURNAL_DIR
        self.fsync = fsync

    def begin(self, op: str, **args: Any) -> Entry:
        """Write (and lock) the intent of operation `op` with its `args` (JSON values)."""
        self._mkdir()
        ident = f"{op}-{os.getpid()}-{threading.get_ident()}-{next(_sequence)}"
        path = self.folder / f"{ident}.json"
        tmp = self.folder / f".{ident}.json.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = open_nofollow(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and ours: never waits
            body = {"version": FORMAT_VERSION, "id": ident, "op": op, "args": args,
                    "pid": os.getpid()}
            os.write(fd, (json.dumps(body, sort_keys=True) + "\n").encode())
            if self.fsync:
                os.fsync(fd)
            os.replace(tmp, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return Entry(ident, op, dict(args), path, fd)

    def finish(self, entry: Entry) -> None:
        """The operation's outcome is in the state: forget the entry."""
        try:
            with contextlib.suppress(FileNotFoundError):
                entry.path.unlink()
        finally:
            self.release(entry)

    def release(self, entry: Entry) -> None:
        """Let go of the entry without removing it: the next command recovers it (an undo
        that failed half-way leaves its operation to be finished that way)."""
        with contextlib.suppress(OSError):
            os.close(entry.fd)
        entry.fd = -1

    def pending(self) -> bool:
        """Whether any entry exists (live or dead): one directory read."""
        try:
            return any(not n.startswith(".") for n in os.listdir(self.folder))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise InvalidConfig(f"journal {self.folder} cannot be listed ({exc.strerror}): "
                                f"fix its permissions (chmod u+rwx {self.folder})",
                                ja=f"ジャーナル {self.folder} の一覧を読めません（"
                                   f"{oserror_ja(exc)}）: パーミッションを直してください"
                                   f"（chmod u+rwx {self.folder}）") from exc

    def dead(self) -> Iterator[Entry]:
        """The entries no live process holds, each locked by us while the caller handles it
        (the caller `finish`es or `release`s it)."""
        for path in self._paths():
            entry = self._take(path)
            if entry is not None:
                yield entry

    def any_dead(self) -> bool:
        """Whether some entry is held by nobody (a quick look, without keeping any lock)."""
        for path in self._paths():
            try:
                fd = open_nofollow(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                continue
            finally:
                os.close(fd)
            return True
        return False

    def live(self) -> list[dict[str, Any]]:
        """The arguments (with "op" and "id") of the operations running now, in any process
        (and those this process is recovering)."""
        found = []
        for path in self._paths():
            try:
                fd = open_nofollow(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise
                    body = self._body(path)
                    if body is not None:
                        found.append({**body["args"], "op": body["op"], "id": body["id"]})
            finally:
                os.close(fd)
        return found

    # -- inside ----------------------------------------------------------------------------
    def _mkdir(self) -> None:
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
        except FileExistsError:
            raise InvalidConfig(f"journal {self.folder} should be a directory: move it "
                                "away",
                                ja=f"ジャーナル {self.folder} はディレクトリであるべきです: "
                                   "別の場所へ移してください") from None

    def _paths(self) -> list[Path]:
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise InvalidConfig(f"journal {self.folder} should be a directory: move it "
                                "away",
                                ja=f"ジャーナル {self.folder} はディレクトリであるべきです: "
                                   "別の場所へ移してください") from None
        except OSError as exc:
            raise InvalidConfig(f"journal {self.folder} cannot be listed ({exc.strerror}): "
                                f"fix its permissions (chmod u+rwx {self.folder})",
                                ja=f"ジャーナル {self.folder} の一覧を読めません（"
                                   f"{oserror_ja(exc)}）: パーミッションを直してください"
                                   f"（chmod u+rwx {self.folder}）") from exc
        return [self.folder / n for n in sorted(names)
                if n.endswith(".json") and not n.startswith(".")]

    def _take(self, path: Path) -> Entry | None:
        """Lock `path` if its owner is gone; None while a live operation holds it."""
        try:
            fd = open_nofollow(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    return None
                raise
            # Finished (unlinked) between our open and our lock: nothing to recover.
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    os.close(fd)
                    return None
            except FileNotFoundError:
                os.close(fd)
                return None
            body = self._body(path)
            if body is None:
                os.close(fd)
                return None
            return Entry(body["id"], body["op"], body["args"], path, fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise

    def _body(self, path: Path) -> dict[str, Any] | None:
        data = read_json(path)
        if data is None:
            return None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise InvalidConfig(f"journal entry {path} has format version {version!r}, not "
                                f"{FORMAT_VERSION} (another ctrnet wrote it): finish it with "
                                "that ctrnet, or remove it and run `ctrnet gc`",
                                ja=f"ジャーナルの項目 {path} の形式のバージョンは {version!r} で"
                                   f"、{FORMAT_VERSION} ではありません（別の ctrnet が書いたもの"
                                   "）: その ctrnet で完了させるか、削除して `ctrnet gc` を実行"
                                   "してください")
        if (data.get("op") not in _OPERATIONS or not isinstance(data.get("args"), dict)
                or not isinstance(data.get("id"), str)):
            raise InvalidConfig(f"journal entry {path} is corrupt: remove it and run "
                                "`ctrnet gc`",
                                ja=f"ジャーナルの項目 {path} が壊れています: 削除して "
                                   "`ctrnet gc` を実行してください")
        return data
