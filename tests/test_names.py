"""The one name rule (`ctrnet.names`): a table of names per kind, accepted or refused with one
line naming the kind and the reason; and the model refusing a bad name before it builds a path
(StateStore, NetworkManager), leaving the state directory untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrnet import names
from ctrnet.backend import Backend
from ctrnet.manager import NetworkManager
from ctrnet.names import InvalidName, Kind
from ctrnet.network import EndpointSpec, FieldError, NetworkSpec
from ctrnet.state import StateStore

N, C, NS, IF, BR = Kind.NETWORK, Kind.CONTAINER, Kind.NETNS, Kind.IFNAME, Kind.BRIDGE

#: (kind, name, the reason's words, or None when the name is valid).
CASES: list[tuple[Kind, object, str | None]] = [
    # network and container: Docker's rule, and a file name in the state directory
    (N, "web", None),
    (N, "a", None),
    (N, "Web-1_x.y", None),
    (N, "a" * 64, None),
    (N, "a" * 65, "longer than 64 bytes"),
    (N, "", "is empty"),
    (N, ".", "path component"),
    (N, "..", "path component"),
    (N, "../networks/web", "'/'"),
    (N, "a/b", "'/'"),
    (N, "/etc", "'/'"),
    (N, "-rf", "start with '-'"),
    (N, "a\0b", "NUL"),
    (N, ".hidden", "start with a letter or digit"),
    (N, "_x", "start with a letter or digit"),
    (N, "a b", "A-Z a-z 0-9"),
    (N, "a\nb", "A-Z a-z 0-9"),
    (N, "caf\u00e9", "A-Z a-z 0-9"),
    (N, "a:b", "A-Z a-z 0-9"),
    (N, "x\udcff", "not valid UTF-8"),
    (N, 7, "not a string"),
    (N, None, "not a string"),
    (C, "c1", None),
    (C, "../x", "'/'"),
    (C, "..", "path component"),
    (C, "-c", "start with '-'"),
    # netns: what `ip netns add` takes (one file under /run/netns), printable, one word
    (NS, "host", None),
    (NS, "cni-1234-abcd", None),
    (NS, "ns:1", None),
    (NS, "caf\u00e9", None),
    (NS, "n" * 255, None),
    (NS, "n" * 256, "longer than 255 bytes"),
    (NS, "\u00e9" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
    (NS, "", "is empty"),
    (NS, ".", "path component"),
    (NS, "..", "path component"),
    (NS, "a/b", "'/'"),
    (NS, "a b", "whitespace"),
    (NS, "a\tb", "whitespace"),
    (NS, "a\x1bb", "control characters"),
    (NS, "a\0", "NUL"),
    (NS, "-n", "start with '-'"),
    # ifname and bridge: dev_valid_name() and IFNAMSIZ
    (IF, "eth0", None),
    (IF, "e" * 15, None),
    (IF, "e" * 16, "longer than 15 bytes"),
    (IF, "\u00e9" * 8, "longer than 15 bytes"),  # 16 bytes
    (IF, "veth@1", None),
    (IF, "eth0:1", "':'"),
    (IF, "a b", "whitespace"),
    (IF, "a\u00a0", "whitespace"),  # NBSP: the kernel's isspace() counts byte 0xA0
    (IF, "\u00e0", "whitespace"),  # UTF-8 C3 A0: the same byte, inside a letter
    (IF, "a\x7f", "control characters"),
    (IF, ".", "path component"),
    (IF, "..", "path component"),
    (IF, "a/b", "'/'"),
    (IF, "", "is empty"),
    (IF, "-x", "start with '-'"),
    (BR, "br-web", None),
    (BR, "br:web", "':'"),
    (BR, "b" * 16, "longer than 15 bytes"),
]


@pytest.mark.parametrize(("kind", "name", "reason"), CASES)
def test_each_kind_takes_what_its_rule_allows(kind: Kind, name: object,
                                              reason: str | None) -> None:
    if reason is None:
        assert names.check(kind, name) == name
        return
    with pytest.raises(InvalidName) as caught:
        names.check(kind, name)
    message = str(caught.value)
    assert reason in message, message
    assert message.startswith(f"{names._WHAT[kind]} ") and "\n" not in message
    assert caught.value.errno == 22  # EINVAL, as the kernel answers a bad name


def test_a_very_long_bad_name_is_cut_in_the_message() -> None:
    with pytest.raises(InvalidName) as caught:
        names.network("/" * 10_000)
    assert len(str(caught.value)) < 120


def test_every_valid_network_bridge_or_ifname_is_a_valid_netns_name() -> None:
    # `ctrnet doctor NAME` checks NAME by the netns rule because it may be any of the three.
    for kind, name, reason in CASES:
        if reason is None and kind is not NS:
            assert names.netns(name) == name


def test_the_specs_report_a_bad_name_against_their_field() -> None:
    with pytest.raises(FieldError, match="^name: network name '../x'"):
        NetworkSpec(name="../x", subnet="10.1.0.0/24")
    with pytest.raises(FieldError, match="^bridge: bridge name 'br:0'"):
        NetworkSpec(name="web", subnet="10.1.0.0/24", bridge="br:0")
    with pytest.raises(FieldError, match="^container: container name '..'"):
        EndpointSpec(container="..", network="web")
    with pytest.raises(FieldError, match="^ifname: interface name 'a b'"):
        EndpointSpec(container="c1", network="web", ifname="a b")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("call", [
    lambda s: s.network("../x"),
    lambda s: s.remove_network(".."),
    lambda s: s.endpoint("web", "../../x"),
    lambda s: s.endpoints("../ipam"),
    lambda s: s.remove_endpoint("web", "../web"),
    lambda s: s.container_endpoints("*"),
    lambda s: s.remove_pool_files(".."),
])
def test_the_state_store_refuses_a_bad_name_before_building_a_path(call: object,
                                                                     tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    store.put_network(NetworkSpec(name="web", subnet="10.1.0.0/24"))
    (tmp_path / "outside.json").write_text("{}")
    before = _snapshot(tmp_path)
    with pytest.raises(InvalidName):
        call(store)  # type: ignore[operator]
    assert _snapshot(tmp_path) == before


def test_the_manager_refuses_a_bad_name_and_touches_nothing(backend: Backend,
                                                             tmp_path: Path) -> None:
    mgr = NetworkManager(backend, tmp_path / "state")
    try:
        (tmp_path / "networks").mkdir()
        (tmp_path / "networks" / "victim.json").write_text("{}")
        before = _snapshot(tmp_path)
        for call in (lambda: mgr.delete_network("../../networks/victim"),
                     lambda: mgr.network("../x"),
                     lambda: mgr.disconnect("web", "../x"),
                     lambda: mgr.disconnect("..", "c1")):
            with pytest.raises(InvalidName):
                call()
        assert _snapshot(tmp_path) == before
    finally:
        mgr.close()
