"""`--state DIR`: a simulated world written to disk as JSON and read back, pending timers
included; whatever is not such a file is refused, nothing in it is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctrnet.backends.sim import SimBackend, persist
from ctrnet.errors import InvalidConfig


def _world_resolving_a_neighbour() -> SimBackend:
    world = SimBackend()
    world.netns_add("ctr")
    world.veth_add("host", "veth0", "veth1", "ctr")
    world.addr_add("host", "veth0", "10.9.0.1/24")
    world.link_set_up("host", "veth0")
    world.link_set_up("ctr", "veth1")
    # Nobody owns 10.9.0.7: ARP keeps retransmitting (timers are closures in the world).
    world.ping("host", "10.9.0.7", count=1, timeout=0.5)
    return world


def test_world_with_pending_timers_survives_a_round_trip() -> None:
    original = _world_resolving_a_neighbour()
    copy = persist.loads(persist.dumps(original))
    assert copy.world.timers, "the neighbour's retransmissions should be pending"
    for world in (original, copy):
        world.sleep(5)
    states = [[(n.ip, n.state) for n in w.neigh_list("host")] for w in (original, copy)]
    assert states[0] == states[1]


def test_save_is_atomic_and_load_reads_it_back(tmp_path: Path) -> None:
    persist.save(_world_resolving_a_neighbour(), str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [persist.WORLD_FILE]
    assert persist.load(str(tmp_path)).netns_list() == ["ctr"]


def test_a_missing_state_is_a_fresh_world(tmp_path: Path) -> None:
    assert persist.load(str(tmp_path / "nothing-yet")).netns_list() == []


def test_a_world_of_an_unknown_format_version_is_refused_with_the_way_out(
        tmp_path: Path) -> None:
    (tmp_path / persist.WORLD_FILE).write_text(
        '{"format": "ctrnet-sim-world", "version": 99, "root": null, "objects": []}')
    with pytest.raises(InvalidConfig, match="format version 99.*remove it"):
        persist.load(str(tmp_path))


def test_the_world_is_readable_json_naming_the_simulators_classes(tmp_path: Path) -> None:
    persist.save(_world_resolving_a_neighbour(), str(tmp_path))
    document = json.loads((tmp_path / persist.WORLD_FILE).read_text())
    assert (document["format"], document["version"]) == (persist.FORMAT, persist.VERSION)
    classes = {o["class"].partition(":")[0] for o in document["objects"]}
    assert all(c.startswith("ctrnet.") for c in classes), classes


def test_a_state_dir_is_locked_for_one_run(tmp_path: Path) -> None:
    held = persist.lock_state(str(tmp_path))
    try:
        with pytest.raises(InvalidConfig, match="in use"):
            persist.lock_state(str(tmp_path))
    finally:
        held.close()
    persist.lock_state(str(tmp_path)).close()
