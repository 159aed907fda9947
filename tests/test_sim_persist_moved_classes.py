"""A world saved before the simulator's data types moved module still loads: `persist` maps
the old class names (`world:Namespace`, `bridge:Port`, ... now in devices.py and nfstate.py)
to where the classes live now, and the world it loads is the one the same steps build today.

tests/data/sim-world-before-layering.json was written by ctrnet before the move, by the steps
of `_build` below.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from ctrnet.backends.sim import SimBackend, persist

SAVED = Path(__file__).parent / "data" / "sim-world-before-layering.json"


def _build() -> SimBackend:
    b = SimBackend(seed=1)
    h = b.host_ns
    b.netns_add("ctr")
    b.bridge_add(h, "br0")
    b.addr_add(h, "br0", "10.7.0.1/24")
    b.link_set_up(h, "br0")
    b.veth_add(h, "veth0", "eth0", "ctr")
    b.link_set_master(h, "veth0", "br0")
    for ns, dev in ((h, "veth0"), ("ctr", "eth0"), ("ctr", "lo")):
        b.link_set_up(ns, dev)
    b.addr_add("ctr", "eth0", "10.7.0.2/24")
    b.route_add("ctr", "default", gateway="10.7.0.1")
    b.iptables_restore(h, "*filter\n-A INPUT -p tcp --dport 22 -j DROP\nCOMMIT\n")
    assert b.ping("ctr", "10.7.0.1").received == 1
    return b


def test_the_saved_file_names_every_class_by_its_old_module() -> None:
    named = {o["class"] for o in json.loads(SAVED.read_text())["objects"] if "class" in o}
    assert set(persist._MOVED) <= named


def test_a_world_saved_before_the_move_is_the_world_built_now() -> None:
    loaded = persist.loads(SAVED.read_bytes(), str(SAVED))
    assert persist.dumps(loaded) == persist.dumps(_build())
    # And it goes on working: the neighbour it learned, the rule it holds.
    assert loaded.ping("ctr", "10.7.0.1").received == 1
    assert "--dport 22 -j DROP" in loaded.iptables_save("host")


def test_each_moved_class_is_no_longer_defined_at_its_old_place_and_loads_from_its_new() -> None:
    decoder = persist._Decoder([], "test")
    for old, new in persist._MOVED.items():
        module, _, name = old.partition(":")
        there = vars(importlib.import_module(module)).get(name)
        assert there is None or there.__module__ != module, f"{old} is still defined there"
        assert decoder._class(old) is decoder._class(new)
