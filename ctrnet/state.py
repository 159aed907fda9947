"""The state directory: networks, endpoints and host settings as JSON files, and the world lock.

Layout under ROOT: `networks/NAME.json`, `endpoints/NETWORK/CONTAINER.json`, `host.json` (the
sysctls ctrnet changed and their old values), `ipam/` (the IPAM FileStores) and `lock`. Every
write goes to a temporary file that is fsynced and renamed over the old one, so a reader (or a
crash) sees the old file or the new one, never half of one. `locked()` serialises rule and
state updates: a threading lock within a process, flock(2) on `lock` between processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ctrnet import names as name_rule
from ctrnet.errors import InvalidConfig
from ctrnet.network import EndpointRecord, NetworkSpec, PortMapping

__all__ = ["DEFAULT_STATE_DIR", "StateStore", "default_state_dir"]

DEFAULT_STATE_DIR = "/var/lib/ctrnet"


def default_state_dir(backend: str = "kernel") -> str:
    """The one rule every command follows: $CTRNET_STATE_DIR; else, as root on the kernel,
    /var/lib/ctrnet; else per user, $XDG_STATE_HOME/ctrnet-BACKEND
    (~/.local/state/ctrnet-sim): a user without root never needs a system directory."""
    explicit = os.environ.get("CTRNET_STATE_DIR")
    if explicit:
        return explicit
    if backend == "kernel" and os.geteuid() == 0:
        return DEFAULT_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".local", "state")
    return os.path.join(base, f"ctrnet-{backend}")


def _write_atomic(path: Path, data: dict[str, Any], fsync: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data: dict[str, Any] = json.load(handle)
            return data
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidConfig(f"state file {path} is unreadable: {exc}") from exc


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
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
        self.root = Path(root)
        self.fsync = fsync
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidConfig(f"state directory {self.root} cannot be made: {exc}") from exc
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @property
    def ipam_root(self) -> Path:
        return self.root / "ipam"

    # -- the world lock --------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the world lock (re-entrant within a thread). Released on any exit."""
        with self._thread_lock:
            if self._depth == 0:
                fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    # Closing the descriptor drops the flock with it.
                    os.close(self._fd)
                    self._fd = None

    # -- networks ----------------------------------------------------------------------------
    def _network_path(self, name: str) -> Path:
        name_rule.network(name)  # the one name rule, before the name becomes a path
        return self.root / "networks" / f"{name}.json"

    def network(self, name: str) -> NetworkSpec | None:
        data = _read(self._network_path(name))
        return NetworkSpec.from_dict(data) if data is not None else None

    def networks(self) -> list[NetworkSpec]:
        folder = self.root / "networks"
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.glob("*.json")):
            data = _read(path)
            if data is not None:
                found.append(NetworkSpec.from_dict(data))
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
        data = _read(self._endpoint_path(network, container))
        return EndpointRecord.from_dict(data) if data is not None else None

    def endpoints(self, network: str | None = None) -> list[EndpointRecord]:
        base = self.root / "endpoints"
        folders = ([base / name_rule.network(network)] if network is not None
                   else sorted(base.glob("*")))
        found = []
        for folder in folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                data = _read(path)
                if data is not None:
                    found.append(EndpointRecord.from_dict(data))
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
        for path in sorted((self.root / "endpoints").glob(f"*/{container}.json")):
            data = _read(path)
            if data is not None:
                found.append(EndpointRecord.from_dict(data))
        return found

    # -- published ports -------------------------------------------------------------------------
    # One file per published host port, named PROTO-PORT-ADDRESS ("any" for every address),
    # holding "NETWORK/CONTAINER": a clash is found by name, without reading every endpoint.
    def _ports_dir(self) -> Path:
        return self.root / "ports"

    def port_holder(self, port: PortMapping) -> str | None:
        """Who publishes a host port that clashes with `port`, or None. Under the lock."""
        folder = self._ports_dir()
        names = ([f"{port.proto}-{port.host_port}-any", f"{port.proto}-{port.host_port}-"
                  f"{port.host_ip}"] if port.host_ip else None)
        candidates = ([folder / n for n in names] if names is not None
                      else list(folder.glob(f"{port.proto}-{port.host_port}-*")))
        for path in candidates:
            try:
                return path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                continue
        return None

    def claim_port(self, port: PortMapping, owner: str) -> None:
        folder = self._ports_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{port.proto}-{port.host_port}-{port.host_ip or 'any'}"
        (folder / name).write_text(owner + "\n", encoding="utf-8")

    def release_ports(self, owner: str, ports: tuple[PortMapping, ...]) -> None:
        """Forget the ports `owner` published. Idempotent."""
        folder = self._ports_dir()
        for port in ports:
            path = folder / f"{port.proto}-{port.host_port}-{port.host_ip or 'any'}"
            with contextlib.suppress(FileNotFoundError):
                if path.read_text(encoding="utf-8").strip() == owner:
                    path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()

    def release_all_ports(self, keep: set[str]) -> None:
        """Forget the ports of every owner not in `keep` (gc)."""
        folder = self._ports_dir()
        for path in list(folder.glob("*")) if folder.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                if path.read_text(encoding="utf-8").strip() not in keep:
                    path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()

    def port_owners(self) -> set[str]:
        folder = self._ports_dir()
        return {p.read_text(encoding="utf-8").strip() for p in folder.glob("*")
                } if folder.is_dir() else set()

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

