"""An error the grader's world raises reaches the plugin's process as it was raised: every
kind of CtrnetError (found by importing every module of ctrnet, not listed here), with its
English message, errno, Japanese wording and attributes, through the real socket.

Before, the client rebuilt `cls(message, errno, ja=ja)`: a kind with its own constructor got
a garbled message (FieldError(field, message) made "subnet: bad: 22") or another kind."""

from __future__ import annotations

import ast
import errno
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest
from netaddr import IPAddress

import ctrnet
from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError
from ctrnet.grade.remote import BackendServer, RemoteBackend
from ctrnet.ipam import AddressInUse
from ctrnet.names import InvalidName, Kind
from ctrnet.network import FieldError

ROOT = Path(__file__).resolve().parent.parent


#: Modules that need an optional dependency this install lacks (the kernel backend without
#: the `kernel` extra's pyroute2): left out of both discoveries.
NOT_INSTALLED: set[str] = set()


def _module_of(path: Path) -> str:
    """The import name of a source file of this tree (backends/ is ctrnet.backends)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] != "ctrnet":
        parts.insert(0, "ctrnet")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_kinds() -> list[type[CtrnetError]]:
    """Every subclass of CtrnetError (and itself) in ctrnet, its backends included."""
    for module in pkgutil.walk_packages(ctrnet.__path__, "ctrnet."):
        if module.name.startswith("ctrnet.conformance"):  # test modules
            continue
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as missing:
            if not (missing.name or "").startswith("pyroute2"):
                raise
            NOT_INSTALLED.add(module.name)
    found: list[type[CtrnetError]] = [CtrnetError]
    for kind in found:
        found += [k for k in kind.__subclasses__() if k not in found]
    return sorted(found, key=lambda k: f"{k.__module__}.{k.__qualname__}")


def _kinds_in_the_source() -> set[str]:
    """The names of CtrnetError's subclasses, read from the source (so that discovery by
    import cannot silently miss a module)."""
    classes = [node for path in [*(ROOT / "ctrnet").rglob("*.py"),
                                 *(ROOT / "backends").rglob("*.py")]
               if "conformance" not in path.relative_to(ROOT).parts
               and _module_of(path) not in NOT_INSTALLED
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef)]
    kinds = {"CtrnetError"}
    grown = True
    while grown:
        before = len(kinds)
        kinds |= {c.name for c in classes
                  if any(isinstance(b, ast.Name | ast.Attribute)
                         and (b.id if isinstance(b, ast.Name) else b.attr) in kinds
                         for b in c.bases)}
        grown = len(kinds) > before
    return kinds


KINDS = _all_kinds()

#: An error of each kind whose constructor is its own (not message, errno, ja=), as its
#: raise sites build it.
OWN_CONSTRUCTORS: dict[type[CtrnetError], Callable[[], CtrnetError]] = {
    FieldError: lambda: FieldError("subnet", "'10.0.0.0/33' is not a CIDR",
                                   ja="'10.0.0.0/33' は CIDR ではありません"),
    InvalidName: lambda: InvalidName(Kind.NETWORK, "a/b", "must not contain '/'",
                                     ja="'/' を含んではいけません"),
    AddressInUse: lambda: AddressInUse("web", IPAddress("10.0.0.2"), "c1"),
}


def _own_constructor(kind: type[CtrnetError]) -> bool:
    return kind is not CtrnetError and "__init__" in vars(kind)


def _example(kind: type[CtrnetError]) -> CtrnetError:
    if _own_constructor(kind):
        return OWN_CONSTRUCTORS[kind]()
    return kind(f"{kind.__name__} of link 'v1'", errno.ENODEV,
                ja=f"リンク 'v1' の {kind.__name__}")


class Raiser:
    """A world whose netns_add raises whatever it is told to."""

    name = "stub"
    capabilities: frozenset[str] = frozenset()
    host_ns = "host"

    def __init__(self) -> None:
        self.error: Exception = CtrnetError("unset", ja="未設定")

    def netns_add(self, name: str) -> None:
        raise self.error


@pytest.fixture
def served() -> Iterator[tuple[Raiser, RemoteBackend]]:
    world = Raiser()
    server = BackendServer(cast(Backend, world))
    remote = RemoteBackend.open(server.socket_path)
    try:
        yield world, remote
    finally:
        remote.close()
        server.close()


def _through(served: tuple[Raiser, RemoteBackend], error: Exception) -> CtrnetError:
    world, remote = served
    world.error = error
    with pytest.raises(CtrnetError) as caught:
        remote.netns_add("c1")
    return caught.value


def test_discovery_finds_every_kind_the_source_defines() -> None:
    assert {k.__name__ for k in KINDS} == _kinds_in_the_source()
    assert {FieldError, InvalidName, AddressInUse} <= set(KINDS)


def test_every_kind_with_its_own_constructor_has_an_example() -> None:
    assert {k for k in KINDS if _own_constructor(k)} == set(OWN_CONSTRUCTORS)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_an_error_of_every_kind_crosses_the_socket_intact(
        kind: type[CtrnetError], served: tuple[Raiser, RemoteBackend]) -> None:
    sent = _example(kind)
    got = _through(served, sent)
    assert type(got) is kind
    assert str(got) == str(sent) and got.message == sent.message
    assert got.errno == sent.errno
    assert got.message_ja == sent.message_ja and got.in_lang("ja") == sent.in_lang("ja")
    # Its attributes (the errno is an instance's or its class's: compared above).
    assert {k: v for k, v in vars(got).items() if k != "errno"} == {
        k: v for k, v in vars(sent).items() if k != "errno"}


def test_a_field_error_keeps_its_field_and_both_wordings(
        served: tuple[Raiser, RemoteBackend]) -> None:
    got = _through(served, FieldError("subnet", "'x' is not a CIDR", ja="'x' は CIDR ではない"))
    assert isinstance(got, FieldError) and got.field == "subnet"
    assert str(got) == "subnet: 'x' is not a CIDR"
    assert got.in_lang("ja") == "subnet: 'x' は CIDR ではない"
    assert got.errno == errno.EINVAL


def test_an_attribute_pickle_refuses_leaves_the_kind_and_wordings(
        served: tuple[Raiser, RemoteBackend]) -> None:
    sent = FieldError("gateway", "is outside the subnet", ja="サブネットの外です")
    sent.callback = lambda: None  # type: ignore[attr-defined]
    got = _through(served, sent)
    assert type(got) is FieldError and str(got) == str(sent)
    assert got.in_lang("ja") == sent.in_lang("ja") and got.errno == errno.EINVAL
    assert not hasattr(got, "callback")


def test_an_unexpected_exception_of_the_world_is_said_with_its_type(
        served: tuple[Raiser, RemoteBackend]) -> None:
    got = _through(served, ValueError("boom"))
    assert type(got) is CtrnetError and str(got) == "ValueError: boom"
