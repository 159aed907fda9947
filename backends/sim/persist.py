"""A simulated world kept on disk between runs: `--state DIR` of `ctrnet sim exec|shell`, and
the world of `ctrnet network|connect|… --backend sim`.

The SimBackend is written as JSON (`world.json`): a versioned header and a table of the
world's objects, each named by its class and holding its attributes; references between
objects (a veth and its peer, a device and its namespace, a timer and what it acts on) are
indexes into the table. Loading builds objects of the simulator's own classes only (an
allow-list of ctrnet modules), fills their attributes and runs nothing else: no pickle, no
marshal, no code named by the file. A file of another format version is refused with the
way out, never guessed at. The file is written to a temporary name and renamed into place;
a temporary file a killed writer left is removed by the next save or load.

DIR/lock keeps two runs from using one state at the same time; different directories are
independent. docs/state.md describes the format.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import fcntl
import importlib
import json
import math
import os
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ctrnet.backends.sim.backend import SimBackend
from ctrnet.backends.sim.icmplimit import IcmpLimits
from ctrnet.errors import InvalidConfig
from ctrnet.safefiles import open_nofollow, secure_dir
from ctrnet.types import NeighState, OperState, Proto

WORLD_FILE = "world.json"
LOCK_FILE = "lock"
#: What the header names; a file with another format or version is refused.
FORMAT = "ctrnet-sim-world"
VERSION = 1
#: Files of the pickle format (before version 1 of this one), refused with a message.
LEGACY_FILES = ("world.pickle",)
_TMP = f".{WORLD_FILE}.tmp"
#: Only classes of these modules (and their submodules) are made when loading.
_ALLOWED_MODULES = ("ctrnet.backends.sim", "ctrnet.types", "ctrnet.netfilter", "ctrnet.errors",
                    "backends.sim")
#: Classes that moved to another module since worlds were first saved in this format: a file
#: naming the old place loads the class from the new one (the layering of the packet path put
#: the data types low: devices.py holds the namespace and what hangs off it).
_MOVED = {
    f"ctrnet.backends.sim.{old}": f"ctrnet.backends.sim.{new}"
    for old, new in (
        ("world:Namespace", "devices:Namespace"),
        ("routing:Fib", "devices:Fib"),
        ("routing:RouteRec", "devices:RouteRec"),
        ("neighbour:NeighTable", "devices:NeighTable"),
        ("neighbour:Entry", "devices:Entry"),
        ("bridge:BridgeState", "devices:BridgeState"),
        ("bridge:Port", "devices:Port"),
        ("bridge:FdbRecord", "devices:FdbRecord"),
        ("netfilter:NfState", "nfstate:NfState"),
    )
}
_MODULE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
#: Attributes that are not part of the world, by class: what one process holds (the keeper
#: and its lock) and caches rebuilt on first use (compiled iptables chains are closures).
#: Written as the empty value given here.
_TRANSIENT: dict[str, dict[str, Any]] = {
    "ctrnet.backends.sim.backend:SimBackend": {"keeper": None},
    "ctrnet.netfilter.ruleset:Ruleset": {"compiled": {}},
}

#: The attributes that hold a StrEnum, by class. Files written before StrEnums were tagged
#: (a StrEnum is a str, and was written as a bare string) hold a plain string there: loading
#: turns it back into the enum. tests/test_sim_persist_types.py checks that this lists every
#: attribute a world keeps a StrEnum in.
_STR_ENUMS: dict[str, dict[str, type[enum.StrEnum]]] = {
    "ctrnet.backends.sim.devices:Entry": {"state": NeighState},
    "ctrnet.backends.sim.neighbour:_Retransmit": {"state": NeighState},
    "ctrnet.backends.sim.devices:Veth": {"settled": OperState},
    "ctrnet.backends.sim.sockets:SimListener": {"proto": Proto},
}

#: Attributes added to a class since worlds were first saved in this format, with what a
#: file written before holds in their place: a fresh value (a namespace's ICMP rate limits
#: start full, as they would in a namespace made then).
_ADDED: dict[str, dict[str, Callable[[], Any]]] = {
    "ctrnet.backends.sim.devices:Namespace": {"icmp": IcmpLimits},
}


class UnsupportedValue(TypeError):
    """The world holds a value the format has no way to write (a lambda, an open file)."""


# -- writing ---------------------------------------------------------------------------------
class _Encoder:
    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        self.index: dict[int, int] = {}
        self.keep: list[object] = []  # ids stay valid while we write
        self.containers: set[int] = set()
        self.pending: list[tuple[object, dict[str, Any]]] = []

    def run(self, root: Any) -> Any:
        """Encode `root`; the objects it reaches are written one after the other, not nested
        (a world of many namespaces linked by veths would otherwise recurse too deep)."""
        self.shared = _shared_containers(root)
        value = self.value(root)
        while self.pending:
            obj, entry = self.pending.pop()
            self._fill(obj, entry)
        return value

    def value(self, obj: Any) -> Any:
        if obj is None or type(obj) is str or type(obj) is bool:
            return obj
        if isinstance(obj, enum.Enum):
            # Before the plain str above would catch it: a StrEnum is a str too, and written
            # bare it would come back as a str (see _STR_ENUMS for the files written so).
            return {"enum": _name_of(type(obj)), "value": self.value(obj.value)}
        if isinstance(obj, str):
            raise UnsupportedValue(f"{type(obj).__qualname__} is a str the format cannot tag")
        if type(obj) is int:
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, int | float) and type(obj).__module__ == "builtins":
            return obj
        if type(obj) in (list, tuple, set, frozenset, dict, collections.deque):
            return self._container(obj)
        if type(obj) is bytes:
            return {"bytes": obj.hex()}
        if type(obj) is bytearray:
            self._own(obj)
            return {"bytearray": obj.hex()}
        if type(obj) is random.Random:
            version, state, gauss = obj.getstate()
            return {"random": [version, list(state), gauss]}
        if isinstance(obj, type) and _allowed(obj.__module__):
            return {"type": _name_of(obj)}
        return {"ref": self._object(obj)}

    def _members(self, members: set[Any] | frozenset[Any]) -> list[Any]:
        """A set's members in a stable order (the same world, the same text)."""
        encoded = [self.value(v) for v in members]
        return sorted(encoded, key=lambda v: json.dumps(v, sort_keys=True))

    def _own(self, obj: object) -> None:
        # Seen twice but not counted as shared: the world changed while being written.
        if id(obj) in self.containers:
            raise UnsupportedValue(f"a {type(obj).__name__} changed while being saved")
        self.containers.add(id(obj))
        self.keep.append(obj)

    def _container(self, obj: Any) -> Any:
        if id(obj) in self.shared:
            # Held by two owners: one object of the table, so it comes back as one.
            return {"ref": self._object(obj)}
        if isinstance(obj, list | dict | set | collections.deque):
            self._own(obj)
        if type(obj) is list:
            return {"list": [self.value(v) for v in obj]}
        if type(obj) is tuple:
            return {"tuple": [self.value(v) for v in obj]}
        if type(obj) is set:
            return {"set": self._members(obj)}
        if type(obj) is frozenset:
            return {"frozenset": self._members(obj)}
        if type(obj) is collections.deque:
            return {"deque": [self.value(v) for v in obj], "maxlen": obj.maxlen}
        return {"dict": [[self.value(k), self.value(v)] for k, v in obj.items()]}

    def _object(self, obj: Any) -> int:
        known = self.index.get(id(obj))
        if known is not None:
            return known
        cls = type(obj)
        if cls in _CONTAINERS:
            slot = len(self.objects)
            self.index[id(obj)] = slot
            self.keep.append(obj)
            kind = _CONTAINERS[cls]
            shared: dict[str, Any] = {"container": kind}
            self.objects.append(shared)
            self.pending.append((obj, shared))
            return slot
        if not _allowed(cls.__module__) or "<locals>" in cls.__qualname__:
            raise UnsupportedValue(f"{cls.__module__}.{cls.__qualname__} is not a class of "
                                   "the simulator")
        slot = len(self.objects)
        self.index[id(obj)] = slot
        self.keep.append(obj)
        entry: dict[str, Any] = {"class": _name_of(cls)}
        self.objects.append(entry)
        self.pending.append((obj, entry))
        return slot

    def _fill(self, obj: Any, entry: dict[str, Any]) -> None:
        try:
            self._fill_entry(obj, entry)
        except UnsupportedValue as err:
            if not err.args[0].endswith(")"):
                what = entry.get("class") or entry.get("container")
                raise UnsupportedValue(f"{err} (in {what})") from None
            raise

    def _fill_entry(self, obj: Any, entry: dict[str, Any]) -> None:
        if "container" in entry:
            if isinstance(obj, dict):
                entry["items"] = [[self.value(k), self.value(v)] for k, v in obj.items()]
            elif isinstance(obj, bytearray):
                entry["items"] = obj.hex()
            elif isinstance(obj, set):
                entry["items"] = self._members(obj)
            else:
                entry["items"] = [self.value(v) for v in obj]
                if isinstance(obj, collections.deque):
                    entry["maxlen"] = obj.maxlen
            return
        if isinstance(obj, tuple):  # a NamedTuple: its fields are its items
            entry["items"] = [self.value(v) for v in obj]
            return
        if isinstance(obj, list):
            entry["items"] = [self.value(v) for v in obj]
        elif isinstance(obj, dict):
            entry["items"] = [[self.value(k), self.value(v)] for k, v in obj.items()]
        entry["state"] = {name: self.value(value) for name, value in _attributes(obj)}


#: Mutable built-in containers: one held by two owners is an object of the table.
_CONTAINERS: dict[type, str] = {list: "list", dict: "dict", set: "set",
                                collections.deque: "deque", bytearray: "bytearray"}


def _shared_containers(root: Any) -> set[int]:
    """The ids of the mutable built-in containers that more than one owner holds."""
    seen: set[int] = set()
    shared: set[int] = set()
    keep = []
    stack = [root]
    while stack:
        obj = stack.pop()
        cls = type(obj)
        if obj is None or cls in (bool, int, float, str, bytes, type) or \
                isinstance(obj, enum.Enum | type):
            continue
        if id(obj) in seen:
            if cls in _CONTAINERS:
                shared.add(id(obj))
            continue
        seen.add(id(obj))
        keep.append(obj)
        if cls in (list, tuple, set, frozenset, collections.deque):
            stack.extend(obj)
        elif cls is dict:
            for key, value in obj.items():
                stack.append(key)
                stack.append(value)
        elif cls in (bytearray, random.Random):
            continue
        elif _allowed(cls.__module__):
            if isinstance(obj, list | tuple):
                stack.extend(obj)
            elif isinstance(obj, dict):
                for key, value in obj.items():
                    stack.append(key)
                    stack.append(value)
            stack.extend(value for _, value in _attributes(obj))
    return shared


def _attributes(obj: Any) -> list[tuple[str, Any]]:
    found: dict[str, Any] = {}
    for klass in reversed(type(obj).__mro__):
        for name in getattr(klass, "__slots__", ()):
            if name in ("__dict__", "__weakref__"):
                continue
            with contextlib.suppress(AttributeError):
                found[name] = getattr(obj, name)
    found.update(getattr(obj, "__dict__", {}))
    for name, empty in _TRANSIENT.get(_name_of(type(obj)), {}).items():
        if name in found:
            found[name] = type(empty)() if empty is not None else None
    return sorted(found.items())


def _name_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _ALLOWED_MODULES)


def dumps(backend: SimBackend, records: dict[str, str] | None = None) -> bytes:
    """The world as JSON text (UTF-8), with the network manager's `records` when given."""
    encoder = _Encoder()
    try:
        root = encoder.run(backend)
    except (UnsupportedValue, RecursionError) as err:
        raise InvalidConfig(f"the simulated world cannot be saved: {err}") from err
    document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "root": root,
                                "objects": encoder.objects}
    if records is not None:
        document["records"] = dict(sorted(records.items()))
    return (json.dumps(document, separators=(",", ":")) + "\n").encode()


# -- reading ---------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, objects: list[Any], origin: str) -> None:
        self.origin = origin
        self.table = objects
        self.made: list[Any] = [None] * len(objects)
        self.filled = [False] * len(objects)

    def bad(self, what: str) -> InvalidConfig:
        return InvalidConfig(f"{self.origin} is not a world ctrnet wrote ({what}): remove it to "
                             "start from a fresh world")

    def build(self, root: Any) -> Any:
        # Every object first (empty), then their attributes: references may go any way.
        for slot, entry in enumerate(self.table):
            self._make(slot, entry)
        for slot, entry in enumerate(self.table):
            self._fill(slot, entry)
        return self.value(root)

    def _make(self, slot: int, entry: Any) -> None:
        kind = entry.get("container") if isinstance(entry, dict) else None
        if kind is not None:
            made = {v: k for k, v in _CONTAINERS.items()}.get(kind)
            if made is None:
                raise self.bad(f"object {slot} is a container {kind!r}")
            self.made[slot] = made()
            return
        if not isinstance(entry, dict) or not isinstance(entry.get("class"), str):
            raise self.bad(f"object {slot} has no class")
        cls = self._class(entry["class"])
        if issubclass(cls, tuple):
            return  # made in _fill, from its items (a tuple is immutable)
        # The base's allocator only: no __init__, no __new__ of ours, nothing from the file.
        base = next(b for b in (list, dict, BaseException, object) if issubclass(cls, b))
        self.made[slot] = base.__new__(cls)

    def _fill(self, slot: int, entry: dict[str, Any]) -> None:
        if "container" in entry:
            self._fill_container(self.made[slot], entry)
            return
        cls = self._class(entry["class"])
        if issubclass(cls, tuple):
            self.made[slot] = cls(*[self.value(v) for v in self._list(entry.get("items"))])
            return
        obj = self.made[slot]
        if issubclass(cls, list):
            list.extend(obj, [self.value(v) for v in self._list(entry.get("items"))])
        elif issubclass(cls, dict):
            for pair in self._list(entry.get("items")):
                key, value = self._pair(pair)
                dict.__setitem__(obj, key, value)
        state = entry.get("state", {})
        if not isinstance(state, dict):
            raise self.bad(f"object {slot} has no attributes")
        enums = _STR_ENUMS.get(_name_of(cls))
        for name, value in state.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise self.bad(f"object {slot} has an attribute named {name!r}")
            decoded = self.value(value)
            if enums is not None and type(decoded) is str and name in enums:
                decoded = self._legacy_enum(enums[name], decoded)
            object.__setattr__(obj, name, decoded)
        for name, fresh in _ADDED.get(_name_of(cls), {}).items():
            if name not in state:
                object.__setattr__(obj, name, fresh())

    def _fill_container(self, obj: Any, entry: dict[str, Any]) -> None:
        items = entry.get("items")
        if isinstance(obj, bytearray):
            if not isinstance(items, str):
                raise self.bad("a bytearray that is not hex")
            try:
                obj.extend(bytes.fromhex(items))
            except ValueError:
                raise self.bad("a bytearray that is not hex") from None
        elif isinstance(obj, dict):
            for pair in self._list(items):
                key, value = self._pair(pair)
                obj[key] = value
        elif isinstance(obj, set):
            obj.update(self.value(v) for v in self._list(items))
        elif isinstance(obj, collections.deque):
            maxlen = entry.get("maxlen")
            if maxlen is not None:
                if not isinstance(maxlen, int):
                    raise self.bad("a deque's length")
                replaced = collections.deque(obj, maxlen)
                obj.__init__(replaced, maxlen)  # type: ignore[misc]
            obj.extend(self.value(v) for v in self._list(items))
        else:
            obj.extend(self.value(v) for v in self._list(items))

    def _legacy_enum(self, cls: type[enum.StrEnum], text: str) -> enum.StrEnum:
        """The StrEnum a file written before the tag holds as a plain string."""
        try:
            return cls(text)
        except ValueError:
            raise self.bad(f"a value {text!r} of {_name_of(cls)}") from None

    def _class(self, name: str) -> type:
        module, _, qualname = _MOVED.get(name, name).partition(":")
        if not _MODULE_RE.fullmatch(module) or not _allowed(module) or not qualname:
            raise self.bad(f"class {name!r} is not one of the simulator's")
        target: Any = sys.modules.get(module)
        if target is None:
            target = importlib.import_module(module)  # one of ctrnet's own modules
        for part in qualname.split("."):
            if not part.isidentifier():
                raise self.bad(f"class {name!r} is not one of the simulator's")
            target = getattr(target, part, None)
        if not isinstance(target, type) or target.__module__ != module:
            raise self.bad(f"class {name!r} is not one of the simulator's")
        return target

    def _list(self, items: Any) -> list[Any]:
        if not isinstance(items, list):
            raise self.bad("a list where none is")
        return items

    def _pair(self, pair: Any) -> tuple[Any, Any]:
        if not isinstance(pair, list) or len(pair) != 2:
            raise self.bad("a dict item that is not a pair")
        return self.value(pair[0]), self.value(pair[1])

    def value(self, data: Any) -> Any:
        if data is None or isinstance(data, bool | int | float | str):
            return data
        if isinstance(data, list):
            raise self.bad("a bare list")
        if not isinstance(data, dict) or not data:
            raise self.bad(f"a value {type(data).__name__}")
        tag = next(iter(data))
        body = data[tag]
        if tag == "ref":
            if not isinstance(body, int) or not 0 <= body < len(self.made):
                raise self.bad(f"a reference {body!r} to no object")
            return self.made[body]
        if tag == "list":
            return [self.value(v) for v in self._list(body)]
        if tag == "tuple":
            return tuple(self.value(v) for v in self._list(body))
        if tag == "set":
            return {self.value(v) for v in self._list(body)}
        if tag == "frozenset":
            return frozenset(self.value(v) for v in self._list(body))
        if tag == "deque":
            maxlen = data.get("maxlen")
            if maxlen is not None and not isinstance(maxlen, int):
                raise self.bad("a deque's length")
            return collections.deque((self.value(v) for v in self._list(body)), maxlen)
        if tag == "dict":
            return dict(self._pair(p) for p in self._list(body))
        if tag == "bytes" and isinstance(body, str):
            try:
                return bytes.fromhex(body)
            except ValueError:
                raise self.bad("bytes that are not hex") from None
        if tag == "bytearray" and isinstance(body, str):
            try:
                return bytearray.fromhex(body)
            except ValueError:
                raise self.bad("bytes that are not hex") from None
        if tag == "float" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "enum" and isinstance(body, str):
            cls = self._class(body)
            if not issubclass(cls, enum.Enum):
                raise self.bad(f"{body} is not an enumeration")
            try:
                return cls(self.value(data.get("value")))
            except ValueError:
                raise self.bad(f"a value {data.get('value')!r} of {body}") from None
        if tag == "type" and isinstance(body, str):
            return self._class(body)
        if tag == "random":
            return self._random(body)
        raise self.bad(f"a value tagged {tag!r}")

    def _random(self, body: Any) -> random.Random:
        try:
            version, state, gauss = body
            rng = random.Random()
            rng.setstate((int(version), tuple(int(v) for v in state),
                          None if gauss is None else float(gauss)))
        except (TypeError, ValueError):
            raise self.bad("a random generator's state") from None
        return rng


def loads(data: bytes, origin: str = "the state") -> SimBackend:
    """The world in `data` (what `dumps` wrote); anything else is `InvalidConfig`."""
    return loads_with_records(data, origin)[0]


def loads_with_records(data: bytes, origin: str = "the state"
                       ) -> tuple[SimBackend, dict[str, str] | None]:
    """The world in `data` and the records saved with it (None when there are none)."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InvalidConfig(f"{origin} is not a world ctrnet wrote (not JSON: {err}); remove "
                            "it to start from a fresh world") from err
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidConfig(f"{origin} is not a world ctrnet wrote (no {FORMAT!r} header); "
                            "remove it to start from a fresh world")
    version = document.get("version")
    if version != VERSION:
        raise InvalidConfig(f"{origin} holds a world in format version {version!r}; this "
                            f"ctrnet reads version {VERSION} only: open it with the ctrnet "
                            "that wrote it, or remove it to start from a fresh world")
    objects = document.get("objects")
    if not isinstance(objects, list):
        raise InvalidConfig(f"{origin} is not a world ctrnet wrote (no object table); remove "
                            "it to start from a fresh world")
    decoder = _Decoder(objects, origin)
    try:
        backend = decoder.build(document.get("root"))
    except InvalidConfig:
        raise
    except (TypeError, ValueError, AttributeError, RecursionError) as err:
        raise decoder.bad(f"{type(err).__name__}: {err}") from err
    if not isinstance(backend, SimBackend):
        raise InvalidConfig(f"{origin} does not hold a simulated world; remove it to start "
                            "from a fresh world")
    backend.keeper = None
    records = document.get("records")
    if records is not None and not (isinstance(records, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in records.items())):
        raise InvalidConfig(f"{origin} holds records that are not text files; remove it to "
                            "start from a fresh world")
    return backend, records


# -- files -----------------------------------------------------------------------------------
def save(backend: SimBackend, state_dir: str, *, records: dict[str, str] | None = None
         ) -> None:
    """Write the world into `state_dir` atomically (temporary file, fsync, rename). Only
    one process writes (it holds DIR/lock): the temporary file has one fixed name, and a
    killed writer's is replaced by the next."""
    directory = secure_dir(Path(state_dir))
    data = dumps(backend, records)
    tmp = directory / _TMP
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / WORLD_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load(state_dir: str) -> SimBackend:
    """The world saved in `state_dir`, or a fresh one when there is none yet."""
    return load_with_records(state_dir)[0]


def load_with_records(state_dir: str) -> tuple[SimBackend, dict[str, str] | None]:
    """The world saved in `state_dir` (a fresh one when there is none yet) and the records
    saved with it."""
    directory = secure_dir(Path(state_dir))
    for name in (_TMP, *_stale_temporaries(directory)):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()  # a writer killed before its rename
    for legacy in LEGACY_FILES:
        if (directory / legacy).exists():
            raise InvalidConfig(f"{directory / legacy} is a world in the old pickle format, "
                                "which ctrnet no longer loads (loading it could run code): "
                                "remove it to start from a fresh world")
    path = directory / WORLD_FILE
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return SimBackend(), None
    except OSError as err:
        raise InvalidConfig(f"{path} cannot be read ({err.strerror}): fix its permissions") \
            from err
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    return loads_with_records(data, str(path))


def _stale_temporaries(directory: Path) -> list[str]:
    """Temporary files of the format before this one (`.world-XXXX` from mkstemp)."""
    return [n for n in os.listdir(directory) if n.startswith(".world-")]


def open_lock(state_dir: str) -> int:
    """DIR/lock, opened without following a symlink and without truncating anything."""
    directory = secure_dir(Path(state_dir))
    path = directory / LOCK_FILE
    try:
        return open_nofollow(path, os.O_RDWR | os.O_CREAT)
    except OSError as err:
        raise InvalidConfig(f"lock file {path} cannot be opened ({err.strerror}): the state "
                            "directory must be writable by you") from err


def lock_state(state_dir: str) -> IO[bytes]:
    """Take DIR/lock for the run (closing the returned file releases it). A second run on
    the same state fails at once rather than have two worlds diverge."""
    handle = os.fdopen(open_lock(state_dir), "r+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InvalidConfig(f"state directory {state_dir} is in use by another "
                            "`ctrnet sim` run") from None
    return handle
