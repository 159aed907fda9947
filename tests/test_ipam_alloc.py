"""Allocation and release, the same behaviour over both stores: distinct addresses, never a
reserved one, round-robin reuse, exhaustion, requested addresses, idempotence, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from netaddr import IPAddress

from ctrnet.errors import AlreadyExists, InvalidConfig, PoolExhausted
from ctrnet.ipam import AddressInUse, Allocator, PoolConfig
from ctrnet.ipam_store import CHANGE_LOG, FileStore, MemoryStore, Store

MakePool = Callable[..., Allocator]


@pytest.fixture(params=["memory", "file"])
def make_pool(request: pytest.FixtureRequest, tmp_path: Path) -> MakePool:
    """An allocator for a pool built like PoolConfig.create, over the parametrized store."""

    def make(subnet: str, name: str = "web", **options: str) -> Allocator:
        store: Store
        if request.param == "memory":
            store = MemoryStore()
        else:
            store = FileStore(tmp_path, name, fsync=False)
            request.addfinalizer(store.close)
        return Allocator(PoolConfig.create(name, subnet, **options), store)

    return make


def ips(*addresses: str) -> list[IPAddress]:
    return [IPAddress(a) for a in addresses]


def test_fifty_owners_get_fifty_distinct_addresses_none_reserved(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/26")
    got = [pool.allocate(f"c{i}") for i in range(50)]
    assert len(set(got)) == 50
    reserved = {IPAddress("10.1.0.0"), IPAddress("10.1.0.1"), IPAddress("10.1.0.63")}
    assert not reserved & set(got)
    assert all(address in pool.config.subnet for address in got)
    assert pool.in_use == 50


def test_first_allocation_skips_the_gateway(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24")
    assert pool.allocate("c1") == IPAddress("10.1.0.2")


def test_gateway_in_the_middle_of_the_range_is_skipped(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/29", gateway="10.1.0.3")
    got = [pool.allocate(f"c{i}") for i in range(5)]
    assert got == ips("10.1.0.1", "10.1.0.2", "10.1.0.4", "10.1.0.5", "10.1.0.6")


def test_allocations_stay_inside_the_range(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24", range_start="10.1.0.100", range_end="10.1.0.103")
    got = [pool.allocate(f"c{i}") for i in range(4)]
    assert got == ips("10.1.0.100", "10.1.0.101", "10.1.0.102", "10.1.0.103")
    with pytest.raises(PoolExhausted):
        pool.allocate("c4")


def test_released_address_is_not_reused_before_the_range_wraps(make_pool: MakePool) -> None:
    # host-local's round-robin: a new container does not inherit a just-freed address.
    pool = make_pool("10.1.0.0/29")
    pool.allocate("c1")
    pool.allocate("c2")
    assert pool.release("c1") == IPAddress("10.1.0.2")
    assert pool.allocate("c3") == IPAddress("10.1.0.4")


def test_released_address_is_reused_once_the_range_wraps(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/29")
    for i in range(5):
        pool.allocate(f"c{i}")
    pool.release("c1")
    assert pool.allocate("late") == IPAddress("10.1.0.3")


def test_exhausted_slash_29_names_the_pool_and_its_size(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/29")
    got = {pool.allocate(f"c{i}") for i in range(5)}
    assert got == set(ips("10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"))
    with pytest.raises(PoolExhausted, match=r"web \(10\.1\.0\.0/29.*all 5 are in use") as raised:
        pool.allocate("one-too-many")
    assert raised.value.errno_name == "ENOSPC"
    assert pool.lookup("one-too-many") is None


def test_release_after_exhaustion_makes_room_for_one_more(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/29")
    for i in range(5):
        pool.allocate(f"c{i}")
    pool.release("c3")
    assert pool.allocate("new") == IPAddress("10.1.0.5")
    with pytest.raises(PoolExhausted):
        pool.allocate("another")


def test_requested_address_is_handed_out(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24")
    assert pool.allocate("c1", requested="10.1.0.77") == IPAddress("10.1.0.77")
    assert pool.holder("10.1.0.77") == "c1"


def test_next_allocation_continues_after_a_requested_address(make_pool: MakePool) -> None:
    # host-local records every reservation, requested or not, as the last reserved IP.
    pool = make_pool("10.1.0.0/24")
    pool.allocate("c1", requested="10.1.0.77")
    assert pool.allocate("c2") == IPAddress("10.1.0.78")


def test_requested_address_held_by_another_names_address_and_holder(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24")
    pool.allocate("c1", requested="10.1.0.77")
    with pytest.raises(AddressInUse, match=r"10\.1\.0\.77.*held by 'c1'") as raised:
        pool.allocate("c2", requested="10.1.0.77")
    assert isinstance(raised.value, AlreadyExists)
    assert (raised.value.address, raised.value.holder) == (IPAddress("10.1.0.77"), "c1")
    assert pool.lookup("c2") is None


@pytest.mark.parametrize(
    ("requested", "why"),
    [
        ("10.1.0.1", "gateway"),
        ("10.1.0.0", "network or broadcast"),
        ("10.1.0.255", "network or broadcast"),
        ("10.1.0.250", "outside pool"),
        ("10.9.0.5", "outside pool"),
        ("fd00::5", "IPv6"),
        ("not-an-ip", "not an IP address"),
    ],
)
def test_requested_address_that_cannot_be_handed_out_is_refused(
    make_pool: MakePool, requested: str, why: str
) -> None:
    pool = make_pool("10.1.0.0/24", range_end="10.1.0.200")
    with pytest.raises(InvalidConfig, match=why):
        pool.allocate("c1", requested=requested)
    assert pool.in_use == 0


def test_owner_allocating_again_gets_the_address_it_holds(make_pool: MakePool) -> None:
    # A retried CNI ADD must not leak a second address.
    pool = make_pool("10.1.0.0/24")
    first = pool.allocate("c1")
    assert pool.allocate("c1") == first
    assert pool.allocate("c1", requested=str(first)) == first
    assert pool.in_use == 1


def test_owner_requesting_another_address_while_holding_one_is_refused(
    make_pool: MakePool,
) -> None:
    pool = make_pool("10.1.0.0/24")
    pool.allocate("c1")
    with pytest.raises(InvalidConfig, match=r"'c1' holds 10\.1\.0\.2.*10\.1\.0\.9"):
        pool.allocate("c1", requested="10.1.0.9")


def test_release_by_owner_is_idempotent(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24")
    pool.allocate("c1")
    assert pool.release("c1") == IPAddress("10.1.0.2")
    assert pool.release("c1") is None
    assert pool.release("never-allocated") is None
    assert pool.in_use == 0


def test_release_by_address_is_idempotent_and_names_the_former_owner(
    make_pool: MakePool,
) -> None:
    pool = make_pool("10.1.0.0/24")
    pool.allocate("c1")
    assert pool.release_address("10.1.0.2") == "c1"
    assert pool.release_address("10.1.0.2") is None
    assert pool.lookup("c1") is None


def test_lookup_and_holder_answer_both_ways(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24")
    pool.allocate("c1")
    pool.allocate("c2")
    assert pool.lookup("c2") == IPAddress("10.1.0.3")
    assert pool.holder("10.1.0.3") == "c2"
    assert pool.holder("10.1.0.9") is None
    assert pool.lookup("c9") is None
    assert pool.allocations() == {IPAddress("10.1.0.2"): "c1", IPAddress("10.1.0.3"): "c2"}


@pytest.mark.parametrize("owner", ["", " c1", "c1\n", "a\nb", "tab\there"])
def test_owner_that_cannot_be_stored_on_one_line_is_refused(
    make_pool: MakePool, owner: str
) -> None:
    pool = make_pool("10.1.0.0/24")
    with pytest.raises(InvalidConfig, match="owner"):
        pool.allocate(owner)


def test_threads_sharing_one_pool_get_distinct_addresses(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/24")
    results: dict[str, IPAddress] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(thread: int) -> None:
        start.wait()
        try:
            for i in range(25):
                owner = f"t{thread}-{i}"
                results[owner] = pool.allocate(owner)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 200
    assert len(set(results.values())) == 200
    assert pool.allocations() == {address: owner for owner, address in results.items()}


def test_store_names_the_addresses_changed_since_a_version(make_pool: MakePool) -> None:
    pool = make_pool("10.1.0.0/16")
    with pool.store.locked():
        before = pool.store.version
    pool.allocate("c1")
    pool.allocate("c2")
    pool.release("c1")
    with pool.store.locked():
        assert set(pool.store.changed_since(before) or []) == set(ips("10.1.0.2", "10.1.0.3"))
        assert pool.store.changed_since(pool.store.version) == []
    for _ in range(CHANGE_LOG // 2 + 1):
        pool.allocate("churn")
        pool.release("churn")
    with pool.store.locked():
        assert pool.store.changed_since(before) is None  # too far back: look at everything


def test_two_allocators_over_one_memory_store_see_each_others_reservations() -> None:
    store = MemoryStore()
    config = PoolConfig.create("web", "10.1.0.0/29")
    first, second = Allocator(config, store), Allocator(config, store)
    assert first.allocate("c1") == IPAddress("10.1.0.2")
    assert second.allocate("c2") == IPAddress("10.1.0.3")
    assert first.lookup("c2") == IPAddress("10.1.0.3")
    second.release("c1")
    for i in range(4):
        first.allocate(f"more{i}")
    with pytest.raises(PoolExhausted):
        second.allocate("last")
