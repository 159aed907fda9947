"""Property-based tests: random sequences of allocate/release against a model of host-local's
behaviour, over both stores and over two allocators sharing one store (two processes' view)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from netaddr import IPAddress, IPNetwork

from ctrnet.errors import InvalidConfig, PoolExhausted
from ctrnet.ipam import AddressInUse, Allocator, PoolConfig
from ctrnet.ipam_store import FileStore, MemoryStore

OWNERS = [f"c{i}" for i in range(10)]
#: Small pools, so that exhaustion and wrap-around happen within a few steps.
LAYOUTS = [
    {"subnet": "10.1.0.0/29"},
    {"subnet": "10.1.0.0/29", "gateway": "10.1.0.4"},
    {"subnet": "10.1.0.0/28", "range_start": "10.1.0.3", "range_end": "10.1.0.9"},
    {"subnet": "10.1.0.0/28", "gateway": "10.1.0.14", "range_end": "10.1.0.14"},
    {"subnet": "10.1.0.0/30"},
]


class AllocatorModel(RuleBasedStateMachine):
    """Two allocators over one store (MemoryStore) must behave as one host-local pool."""

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, IPAddress] = {}
        self.last: IPAddress | None = None
        self.pools: list[Allocator] = []
        self.config = PoolConfig.create("web", "10.1.0.0/29")

    def open_pools(self, config: PoolConfig) -> list[Allocator]:
        store = MemoryStore()
        return [Allocator(config, store), Allocator(config, store)]

    @initialize(layout=st.sampled_from(LAYOUTS))
    def set_up(self, layout: dict[str, str]) -> None:
        self.config = PoolConfig.create("web", **layout)
        self.pools = self.open_pools(self.config)

    # -- the model -----------------------------------------------------------------------
    def candidates(self) -> list[IPAddress]:
        """The addresses the pool may hand out, in host-local's round-robin order."""
        start, end = int(self.config.range_start), int(self.config.range_end)
        order = list(range(start, end + 1))
        if self.last is not None and start <= int(self.last) <= end:
            cut = int(self.last) - start + 1
            order = order[cut:] + order[:cut]
        return [IPAddress(a, 4) for a in order if a != int(self.config.gateway)]

    def expected_next(self) -> IPAddress | None:
        held = set(self.model.values())
        return next((a for a in self.candidates() if a not in held), None)

    # -- rules ---------------------------------------------------------------------------
    @rule(which=st.integers(0, 1), owner=st.sampled_from(OWNERS))
    def allocate(self, which: int, owner: str) -> None:
        pool = self.pools[which]
        if owner in self.model:
            assert pool.allocate(owner) == self.model[owner]
            return
        expected = self.expected_next()
        if expected is None:
            with pytest.raises(PoolExhausted):
                pool.allocate(owner)
            return
        assert pool.allocate(owner) == expected
        self.model[owner] = expected
        self.last = expected

    @rule(which=st.integers(0, 1), owner=st.sampled_from(OWNERS), offset=st.integers(-1, 15))
    def allocate_requested(self, which: int, owner: str, offset: int) -> None:
        pool = self.pools[which]
        address = IPAddress(int(self.config.range_start) + offset, 4)
        holders = {a: o for o, a in self.model.items()}
        if address not in self.candidates():
            with pytest.raises(InvalidConfig):
                pool.allocate(owner, requested=address)
        elif self.model.get(owner) == address:
            assert pool.allocate(owner, requested=address) == address
        elif owner in self.model:
            with pytest.raises(InvalidConfig, match="release it"):
                pool.allocate(owner, requested=address)
        elif address in holders:
            with pytest.raises(AddressInUse) as raised:
                pool.allocate(owner, requested=address)
            assert raised.value.holder == holders[address]
        else:
            assert pool.allocate(owner, requested=address) == address
            self.model[owner] = address
            self.last = address

    @rule(which=st.integers(0, 1), owner=st.sampled_from(OWNERS))
    def release(self, which: int, owner: str) -> None:
        assert self.pools[which].release(owner) == self.model.pop(owner, None)

    @rule(which=st.integers(0, 1), offset=st.integers(0, 15))
    def release_address(self, which: int, offset: int) -> None:
        address = IPAddress(int(self.config.range_start) + offset, 4)
        holders = {a: o for o, a in self.model.items()}
        former = holders.get(address)
        assert self.pools[which].release_address(address) == former
        if former is not None:
            del self.model[former]

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def store_matches_the_model(self) -> None:
        for pool in self.pools:
            held = pool.allocations()
            assert held == {a: o for o, a in self.model.items()}
            assert pool.in_use == len(self.model) == len(held)

    @invariant()
    def no_reserved_or_foreign_address_is_held(self) -> None:
        subnet: IPNetwork = self.config.subnet
        reserved = {subnet.network, subnet.broadcast, self.config.gateway}
        for address in self.model.values():
            assert address not in reserved
            assert self.config.range_start <= address <= self.config.range_end

    @invariant()
    def owners_hold_one_address_each(self) -> None:
        addresses = list(self.model.values())
        assert len(addresses) == len(set(addresses))
        for owner in OWNERS:
            assert self.pools[0].lookup(owner) == self.model.get(owner)


class FileStoreModel(AllocatorModel):
    """The same over two FileStores of one directory: two processes' views, kept in step by
    the state token; plus reopening a store, as a restarted process would."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="ipam-prop-"))

    def open_pools(self, config: PoolConfig) -> list[Allocator]:
        # The second view cuts its journal every few changes, so epochs change often.
        return [
            Allocator(config, FileStore(self.root, "web", fsync=False)),
            Allocator(config, FileStore(self.root, "web", fsync=False, journal_limit=40)),
        ]

    @rule(which=st.integers(0, 1))
    def reopen(self, which: int) -> None:
        self.pools[which].store.close()
        journal_limit = (1 << 20, 40)[which]
        store = FileStore(self.root, "web", fsync=False, journal_limit=journal_limit)
        self.pools[which] = Allocator(self.config, store)

    def teardown(self) -> None:
        for pool in self.pools:
            pool.store.close()
        shutil.rmtree(self.root, ignore_errors=True)


TestAllocatorModel = AllocatorModel.TestCase
TestAllocatorModel.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, database=None
)
TestFileStoreModel = FileStoreModel.TestCase
TestFileStoreModel.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, database=None
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    prefix=st.integers(23, 30),
    first=st.integers(1, 600),
    length=st.integers(0, 600),
    gateway=st.integers(1, 600),
)
def test_a_pool_hands_out_exactly_its_size_in_distinct_usable_addresses(
    prefix: int, first: int, length: int, gateway: int
) -> None:
    subnet = IPNetwork(f"10.7.0.0/{prefix}")
    usable = subnet.size - 2
    start = subnet.first + 1 + (first - 1) % usable
    end = min(start + length, subnet.last - 1)
    gw = subnet.first + 1 + (gateway - 1) % usable
    if start == end == gw:
        return  # a range of only the gateway is refused; tested elsewhere
    config = PoolConfig.create(
        "web",
        subnet,
        range_start=IPAddress(start, 4),
        range_end=IPAddress(end, 4),
        gateway=IPAddress(gw, 4),
    )
    pool = Allocator(config)
    got = [pool.allocate(f"c{i}") for i in range(config.size)]
    with pytest.raises(PoolExhausted):
        pool.allocate("one-too-many")
    assert len(set(got)) == len(got) == (end - start + 1) - (start <= gw <= end)
    assert all(start <= int(a) <= end and int(a) != gw for a in got)
