"""The state directory: networks, endpoints and host settings as JSON files, and the world lock.

Layout under ROOT: `networks/NAME.json`, `endpoints/NETWORK/CONTAINER.json`, `host.json` (the
sysctls ctrnet changed and their old values), `ports/` (one claim per published host port),
`ipam/` (the IPAM FileStores), `journal/` (operations under way, `ctrnet.journal`), `world/`
(the simulator's world) and `lock`. Every write goes to a temporary file that is renamed over
the old one, so a reader (or a crash) sees the old file or the new one, never half of one.
`locked()` serialises rule and state updates: a threading lock within a process, flock(2) on
`lock` between processes. docs/state.md describes all of it.

State is input like any other: a file that is not what ctrnet wrote (bad JSON, the wrong
shape, a symlink, a directory where a file belongs) is an `InvalidConfig` naming the file and
what to do, never an empty world; and the directory must be the user's own, writable by
nobody else (as ssh treats a private key), since whoever can write it steers what root does.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import json
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ctrnet import names as name_rule
from ctrnet.errors import InvalidConfig, oserror_ja
from ctrnet.network import EndpointRecord, NetworkSpec, PortMapping
from ctrnet.registry import entry
from ctrnet.safefiles import open_nofollow, secure_dir

__all__ = ["DEFAULT_STATE_DIR", "StateStore", "default_state_dir", "open_nofollow",
           "read_json", "secure_dir"]

DEFAULT_STATE_DIR = "/var/lib/ctrnet"


def default_state_dir(backend: str = "kernel") -> str:
    """The one rule every command follows: $CTRNET_STATE_DIR; else, as root on the kernel,
    /var/lib/ctrnet; else per user, $XDG_STATE_HOME/ctrnet-BACKEND
    (~/.local/state/ctrnet-sim): a user without root never needs a system directory."""
    explicit = os.environ.get("CTRNET_STATE_DIR")
    if explicit:
        return explicit
    if entry(backend).needs_root and os.geteuid() == 0:  # the machine's own world: kernel
        return DEFAULT_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "state")
    return os.path.join(base, f"ctrnet-{backend}")


def _write_atomic(path: Path, data: dict[str, Any], fsync: bool = True) -> None:
    _mkdirs(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # our own leftover (a thread of a pid reused): never followed
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _mkdirs(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise InvalidConfig(f"state path {path} should be a directory: move it away",
                            ja=f"状態のパス {path} はディレクトリであるべきです: "
                               "別の場所へ移してください") from None
    except OSError as exc:
        raise InvalidConfig(f"state directory {path} cannot be made: {exc.strerror}",
                            ja=f"状態ディレクトリ {path} を作れません: "
                               f"{oserror_ja(exc)}") from exc


def read_json(path: Path) -> Any | None:
    """The JSON in `path`, None when there is no such file; anything else that stops it
    being read (a symlink, not a file, bad JSON, no permission) is `InvalidConfig`."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()),
                       path.parent)
        raise InvalidConfig(f"state path {blocker} should be a directory: move it "
                            "away",
                            ja=f"状態のパス {blocker} はディレクトリであるべきです: "
                               "別の場所へ移してください") from None
    except OSError as exc:
        raise InvalidConfig(f"state file {path} cannot be read ({exc.strerror}): fix its "
                            "permissions or restore it",
                            ja=f"状態ファイル {path} を読めません（{oserror_ja(exc)}）: "
                               "パーミッションを直すか、ファイルを復元してください") from exc
    try:
        with os.fdopen(fd, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise InvalidConfig(f"state file {path} is corrupt ({exc}): restore it from a "
                            "backup, or remove it and run `ctrnet gc`",
                            ja=f"状態ファイル {path} が壊れています（{exc}）: バックアップから"
                               "復元するか、削除して `ctrnet gc` を実行してください") from exc


def _read(path: Path) -> dict[str, Any] | None:
    data = read_json(path)
    if data is not None and not isinstance(data, dict):
        raise InvalidConfig(f"state file {path} does not hold an object: restore it, or "
                            "remove it and run `ctrnet gc`",
                            ja=f"状態ファイル {path} の中身がオブジェクトではありません: 復元"
                               "するか、削除して `ctrnet gc` を実行してください")
    return data


def _parsed(path: Path, data: dict[str, Any], parse: Callable[[dict[str, Any]], Any]) -> Any:
    """`parse(data)`, a wrong shape (missing keys, wrong types) reported against `path`."""
    try:
        return parse(data)
    except InvalidConfig as exc:
        raise InvalidConfig(f"state file {path} holds a wrong value ({exc}): restore it, or "
                            "remove it and run `ctrnet gc`",
                            ja=f"状態ファイル {path} に誤った値があります"
                               f"（{exc.in_lang('ja')}）: 復元するか、削除して "
                               "`ctrnet gc` を実行してください") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidConfig(f"state file {path} has the wrong shape ({type(exc).__name__}: "
                            f"{exc}): restore it, or remove it and run `ctrnet gc`",
                            ja=f"状態ファイル {path} の形が誤っています（{type(exc).__name__}: "
                               f"{exc}）: 復元するか、削除して `ctrnet gc` を実行してください"
                            ) from exc


def _listing(folder: Path, pattern: str = "*") -> list[Path]:
    """The entries of `folder` matching `pattern`, sorted; [] when it does not exist. Unlike
    a glob, an unreadable folder or a file in its place is an error, not an empty list."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise InvalidConfig(f"state path {folder.parent} should be a directory: move it "
                            "away",
                            ja=f"状態のパス {folder.parent} はディレクトリであるべきです: "
                               "別の場所へ移してください") from None
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidConfig(f"state path {folder} should be a directory: move it away",
                            ja=f"状態のパス {folder} はディレクトリであるべきです: "
                               "別の場所へ移してください")
    try:
        names_ = os.listdir(folder)
    except OSError as exc:
        raise InvalidConfig(f"state directory {folder} cannot be listed ({exc.strerror}): "
                            f"fix its permissions (chmod u+rwx {folder})",
                            ja=f"状態ディレクトリ {folder} の一覧を読めません（"
                               f"{oserror_ja(exc)}）: パーミッションを直してください"
                               f"（chmod u+rwx {folder}）") from exc
    return [folder / n for n in sorted(names_) if fnmatch.fnmatchcase(n, pattern)
            and not n.startswith(".")]


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


#: Files of an IPAM FileStore that only help read the reservations (`ipam_store`).
_IPAM_HELPERS = frozenset({"lock", "journal", "last_reserved_ip"})


def _dead_writer(name: str) -> bool:
    """Whether `name` is a temporary file (".X.PID.TID.tmp" or ".claim") of a dead process."""
    parts = name.rsplit(".", 3)
    if len(parts) != 4 or parts[3] not in ("tmp", "claim") or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _unlink_orphans(path: Path) -> None:
    """Remove the temporary files `_write_atomic` left for `path` in processes that are gone:
    a writer killed between open and rename (SIGKILL, a crash) leaves one that nothing will
    ever rename. Those of live processes may be mid-write and stay."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            _unlink(tmp)
        except PermissionError:
            pass  # alive, someone else's


class StateStore:
    """Persistent records of one ctrnet host (one world)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = secure_dir(Path(root))
        lock = self.root / "lock"
        if lock.is_symlink() or (lock.exists() and not lock.is_file()):
            # Refused by every command, also those that would never open it.
            raise InvalidConfig(f"state file {lock} is a symlink or not a file, which ctrnet "
                                "never makes: remove it",
                                ja=f"状態ファイル {lock} がシンボリックリンクか通常の"
                                   "ファイルではありません（ctrnet はそうは作りません）: "
                                   "削除してください")
        self.fsync = fsync
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._owner = 0  # thread id holding the lock, 0 when none
        self._fd: int | None = None

    @property
    def ipam_root(self) -> Path:
        return self.root / "ipam"

    # -- the world lock --------------------------------------------------------------------
    def held(self) -> bool:
        """Whether the calling thread holds the world lock."""
        return self._owner == threading.get_ident()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the world lock (re-entrant within a thread). Released on any exit. The lock
        file is never followed if it is a symlink, nor truncated."""
        with self._thread_lock:
            if self._depth == 0:
                path = self.root / "lock"
                try:
                    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
                except OSError as exc:
                    raise InvalidConfig(f"lock file {path} cannot be opened ({exc.strerror}):"
                                        " the state directory must be writable by you",
                                        ja=f"ロックファイル {path} を開けません（"
                                           f"{oserror_ja(exc)}）: 状態ディレクトリにあなたの"
                                           "書き込み権限が必要です") from exc
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
                self._owner = threading.get_ident()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = 0
                if self._depth == 0 and self._fd is not None:
                    # Closing the descriptor drops the flock with it.
                    os.close(self._fd)
                    self._fd = None

    # -- networks ----------------------------------------------------------------------------
    def _network_path(self, name: str) -> Path:
        name_rule.network(name)  # the one name rule, before the name becomes a path
        return self.root / "networks" / f"{name}.json"

    def network(self, name: str) -> NetworkSpec | None:
        path = self._network_path(name)
        data = _read(path)
        return _parsed(path, data, NetworkSpec.from_dict) if data is not None else None

    def networks(self) -> list[NetworkSpec]:
        found = []
        for path in _listing(self.root / "networks", "*.json"):
            data = _read(path)
            if data is not None:
                found.append(_parsed(path, data, NetworkSpec.from_dict))
        return found

    def put_network(self, spec: NetworkSpec) -> None:
        _write_atomic(self._network_path(spec.name), spec.to_dict(), self.fsync)

    def remove_network(self, name: str) -> bool:
        removed = _unlink(self._network_path(name))
        with contextlib.suppress(FileNotFoundError, OSError):
            (self.root / "endpoints" / name).rmdir()
        return removed

    # -- endpoints -----------------------------------------------------------------------------
    def _endpoint_path(self, network: str, container: str) -> Path:
        name_rule.endpoint(network, container)  # before the names become a path
        return self.root / "endpoints" / network / f"{container}.json"

    def endpoint(self, network: str, container: str) -> EndpointRecord | None:
        path = self._endpoint_path(network, container)
        data = _read(path)
        return _parsed(path, data, EndpointRecord.from_dict) if data is not None else None

    def endpoints(self, network: str | None = None) -> list[EndpointRecord]:
        base = self.root / "endpoints"
        folders = ([base / name_rule.network(network)] if network is not None
                   else _listing(base))
        found = []
        for folder in folders:
            for path in _listing(folder, "*.json"):
                data = _read(path)
                if data is not None:
                    found.append(_parsed(path, data, EndpointRecord.from_dict))
        return found

    def claim_endpoint(self, record: EndpointRecord) -> bool:
        """Create the record only if there is none: two connects of one container to one
        network cannot both proceed. False when it exists. Written whole under a temporary
        name, then link(2)ed into place, which fails if the name is taken: a reader never
        sees a half-written record."""
        path = self._endpoint_path(record.network, record.container)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.claim")
        _write_atomic(tmp, record.to_dict(), self.fsync)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            _unlink(tmp)
        return True

    def container_endpoints(self, container: str) -> list[EndpointRecord]:
        """The records of one container, in every network (one file test per network)."""
        name_rule.container(container)  # before the name becomes a glob pattern
        found = []
        for folder in _listing(self.root / "endpoints"):
            path = folder / f"{container}.json"
            data = _read(path)
            if data is not None:
                found.append(_parsed(path, data, EndpointRecord.from_dict))
        return found

    # -- published ports -------------------------------------------------------------------------
    # One file per published host port, named PROTO-PORT-ADDRESS ("any" for every address),
    # holding "NETWORK/CONTAINER": a clash is found by name, without reading every endpoint.
    def _ports_dir(self) -> Path:
        return self.root / "ports"

    def _port_owner(self, path: Path) -> str | None:
        """The "NETWORK/CONTAINER" a claim file names (None when there is no file); a claim
        that names no valid owner is corrupt, and an error: ignoring it would publish the
        port twice."""
        try:
            fd = open_nofollow(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InvalidConfig(f"port claim {path} cannot be read ({exc.strerror}): fix its "
                                "permissions",
                                ja=f"ポートの予約 {path} を読めません（{oserror_ja(exc)}）: "
                                   "パーミッションを直してください") from exc
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(4096)
        owner = data.decode("utf-8", "replace").strip()
        network, _, container = owner.partition("/")
        try:
            name_rule.endpoint(network, container)
        except InvalidConfig:
            raise InvalidConfig(f"port claim {path} is corrupt (it names no NETWORK/CONTAINER:"
                                f" {name_rule.shown(owner)}): remove it if no container "
                                "publishes that port, then run `ctrnet gc`",
                                ja=f"ポートの予約 {path} が壊れています（NETWORK/CONTAINER が"
                                   f"書かれていません: {name_rule.shown(owner)}）: そのポートを"
                                   "公開しているコンテナがなければ削除し、`ctrnet gc` を実行して"
                                   "ください") from None
        return owner

    def _port_claims(self) -> list[Path]:
        return _listing(self._ports_dir())

    def port_holder(self, port: PortMapping) -> str | None:
        """Who publishes a host port that clashes with `port`, or None. Under the lock."""
        folder = self._ports_dir()
        prefix = f"{port.proto}-{port.host_port}-"
        if port.host_ip:
            candidates = [folder / f"{prefix}any", folder / f"{prefix}{port.host_ip}"]
        else:
            candidates = [p for p in self._port_claims() if p.name.startswith(prefix)]
        for path in candidates:
            owner = self._port_owner(path)
            if owner is not None:
                return owner
        return None

    def claim_port(self, port: PortMapping, owner: str) -> None:
        folder = self._ports_dir()
        _mkdirs(folder)
        path = folder / f"{port.proto}-{port.host_port}-{port.host_ip or 'any'}"
        try:
            fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            raise InvalidConfig(f"host port {port} is published by "
                                f"{self._port_owner(path)} already",
                                ja=f"ホストのポート {port} はすでに "
                                   f"{self._port_owner(path)} が公開しています") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(owner + "\n")

    def release_ports(self, owner: str, ports: tuple[PortMapping, ...]) -> None:
        """Forget the ports `owner` published. Idempotent."""
        folder = self._ports_dir()
        for port in ports:
            path = folder / f"{port.proto}-{port.host_port}-{port.host_ip or 'any'}"
            if self._port_owner(path) == owner:
                _unlink(path)
        with contextlib.suppress(OSError):
            folder.rmdir()

    def release_all_ports(self, keep: set[str]) -> None:
        """Forget the ports of every owner not in `keep` (gc). A corrupt claim stops it
        before anything is removed."""
        claims = [(path, self._port_owner(path)) for path in self._port_claims()]
        for path, owner in claims:
            if owner is not None and owner not in keep:
                _unlink(path)
        with contextlib.suppress(OSError):
            self._ports_dir().rmdir()

    def port_owners(self) -> set[str]:
        return {owner for path in self._port_claims()
                if (owner := self._port_owner(path)) is not None}

    def put_endpoint(self, record: EndpointRecord) -> None:
        _write_atomic(self._endpoint_path(record.network, record.container), record.to_dict(),
                      self.fsync)

    def remove_endpoint(self, network: str, container: str) -> bool:
        path = self._endpoint_path(network, container)
        removed = _unlink(path)
        _unlink_orphans(path)
        with contextlib.suppress(OSError):
            (self.root / "endpoints" / network).rmdir()  # only when empty
        return removed

    # -- host settings ---------------------------------------------------------------------------
    def host(self) -> dict[str, Any]:
        return _read(self.root / "host.json") or {}

    # -- the records as one value (saved with a world that a backend keeps) ----------------
    def _record_paths(self) -> list[Path]:
        """Every record file: not the lock, the journal, the world, a temporary file, or the
        IPAM stores' lock, change log and cursor (which follow the reservations)."""
        found = []
        for dirpath, dirs, files in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            top = rel.split(os.sep)[0]
            if top in ("journal", "world"):
                dirs[:] = []
                continue
            for name in files:
                if name.startswith("."):
                    continue
                if rel == "." and name == "lock":
                    continue
                if top == "ipam" and name in _IPAM_HELPERS:
                    continue
                found.append(Path(dirpath) / name)
        return sorted(found)

    def records(self) -> dict[str, str]:
        """Every record, relative path -> text."""
        out = {}
        for path in self._record_paths():
            fd = open_nofollow(path, os.O_RDONLY)
            with os.fdopen(fd, encoding="utf-8") as handle:
                out[str(path.relative_to(self.root))] = handle.read()
        return out

    def put_records(self, records: dict[str, str]) -> None:
        """Make the records exactly `records` (what `records()` returned earlier)."""
        for path in self._record_paths():
            if str(path.relative_to(self.root)) not in records:
                _unlink(path)
        for rel, text in records.items():
            path = self.root / rel
            if ".." in Path(rel).parts or path.is_absolute() and not \
                    str(path).startswith(str(self.root)):
                raise InvalidConfig(f"saved record {rel!r} is not a path in {self.root}",
                                    ja=f"保存された記録 {rel!r} は {self.root} の中のパスでは"
                                       "ありません")
            _mkdirs(path.parent)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)

    def sweep_temporaries(self) -> list[str]:
        """Remove the temporary files (`.NAME.PID.THREAD.tmp|claim`) of writers that are gone
        (a SIGKILL between write and rename); returns them, relative to the root."""
        swept = []
        for dirpath, _dirs, files in os.walk(self.root):
            if os.path.relpath(dirpath, self.root).split(os.sep)[0] in ("ipam", "world"):
                continue  # those stores sweep their own
            for name in files:
                if name.startswith(".") and _dead_writer(name):
                    path = Path(dirpath) / name
                    if _unlink(path):
                        swept.append(os.path.relpath(path, self.root))
        return swept

    def put_host(self, data: dict[str, Any]) -> None:
        if data:
            _write_atomic(self.root / "host.json", data, self.fsync)
        else:
            _unlink(self.root / "host.json")

    def remove_pool_files(self, network: str) -> None:
        """The IPAM FileStore directory of `network` (gone with the network)."""
        name_rule.network(network)  # before the name becomes a path to rmtree
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self.ipam_root / network)
        with contextlib.suppress(OSError):
            self.ipam_root.rmdir()

    def files(self) -> list[str]:
        """Every file under the root but the lock (tests compare before/after)."""
        out = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                rel = os.path.relpath(os.path.join(dirpath, name), self.root)
                if rel != "lock":
                    out.append(rel)
        return sorted(out)

