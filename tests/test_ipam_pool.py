"""Pool configuration and the registry of pools: what a network's pool may contain, and that
two networks never share an address."""

from __future__ import annotations

from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork

from ctrnet.errors import AlreadyExists, InvalidConfig, NotFound
from ctrnet.ipam import Ipam, PoolConfig
from ctrnet.ipam_store import FileStore


def test_gateway_defaults_to_the_first_usable_address() -> None:
    config = PoolConfig.create("web", "10.1.0.0/24")
    assert config.gateway == IPAddress("10.1.0.1")


def test_range_defaults_to_every_usable_address() -> None:
    config = PoolConfig.create("web", "10.1.0.0/24")
    assert (config.range_start, config.range_end) == (
        IPAddress("10.1.0.1"),
        IPAddress("10.1.0.254"),
    )


def test_size_excludes_network_broadcast_and_a_gateway_inside_the_range() -> None:
    assert PoolConfig.create("web", "10.1.0.0/24").size == 253
    assert PoolConfig.create("tiny", "10.1.0.0/30").size == 1


def test_gateway_outside_the_range_does_not_shrink_the_pool() -> None:
    config = PoolConfig.create(
        "web", "10.1.0.0/24", range_start="10.1.0.100", range_end="10.1.0.199"
    )
    assert config.gateway == IPAddress("10.1.0.1")
    assert config.size == 100


@pytest.mark.parametrize("subnet", ["10.1.0.0/31", "10.1.0.0/32"])
def test_slash_31_and_32_are_refused_naming_the_subnet(subnet: str) -> None:
    with pytest.raises(InvalidConfig, match=subnet):
        PoolConfig.create("p2p", subnet)


def test_ipv6_subnet_is_refused_as_ipv6() -> None:
    with pytest.raises(InvalidConfig, match="IPv6"):
        PoolConfig.create("v6", "fd00::/64")


def test_ipv6_gateway_is_refused_as_ipv6() -> None:
    with pytest.raises(InvalidConfig, match="IPv6"):
        PoolConfig.create("web", "10.1.0.0/24", gateway="fd00::1")


@pytest.mark.parametrize("subnet", ["10.1.0.0/33", "10.1.0/24x", "banana", ""])
def test_malformed_subnet_is_refused(subnet: str) -> None:
    with pytest.raises(InvalidConfig, match="web"):
        PoolConfig.create("web", subnet)


def test_subnet_with_host_bits_set_is_refused_naming_its_network() -> None:
    with pytest.raises(InvalidConfig, match=r"10\.1\.0\.0/24"):
        PoolConfig.create("web", "10.1.0.7/24")


@pytest.mark.parametrize("gateway", ["10.2.0.1", "10.1.0.0", "10.1.0.255"])
def test_gateway_outside_the_usable_subnet_is_refused(gateway: str) -> None:
    with pytest.raises(InvalidConfig, match=rf"gateway {gateway}.*10\.1\.0\.0/24"):
        PoolConfig.create("web", "10.1.0.0/24", gateway=gateway)


@pytest.mark.parametrize(
    ("start", "end", "bad"),
    [
        ("10.0.255.250", "10.1.0.20", "range start"),
        ("10.1.0.10", "10.1.1.5", "range end"),
        ("10.1.0.0", "10.1.0.20", "range start"),
        ("10.1.0.10", "10.1.0.255", "range end"),
    ],
)
def test_range_outside_the_usable_subnet_is_refused(start: str, end: str, bad: str) -> None:
    with pytest.raises(InvalidConfig, match=bad):
        PoolConfig.create("web", "10.1.0.0/24", range_start=start, range_end=end)


def test_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="start is after its end"):
        PoolConfig.create("web", "10.1.0.0/24", range_start="10.1.0.20", range_end="10.1.0.10")


def test_range_holding_only_the_gateway_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="only the gateway"):
        PoolConfig.create("web", "10.1.0.0/24", range_start="10.1.0.1", range_end="10.1.0.1")


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(InvalidConfig, match="10.1.0.0/31"):
        PoolConfig(
            name="p2p",
            subnet=IPNetwork("10.1.0.0/31"),
            range_start=IPAddress("10.1.0.0"),
            range_end=IPAddress("10.1.0.1"),
            gateway=IPAddress("10.1.0.0"),
        )


@pytest.mark.parametrize("second", ["10.1.0.0/24", "10.1.0.128/25", "10.0.0.0/8", "10.1.0.252/30"])
def test_overlapping_subnets_of_two_networks_are_refused_naming_both(second: str) -> None:
    ipam = Ipam()
    ipam.add_pool(PoolConfig.create("web", "10.1.0.0/24"))
    with pytest.raises(
        InvalidConfig, match=r"'db' overlaps subnet 10\.1\.0\.0/24 of network 'web'"
    ):
        ipam.add_pool(PoolConfig.create("db", second))
    assert list(ipam) == ["web"]


def test_adjacent_subnets_are_accepted() -> None:
    ipam = Ipam()
    ipam.add_pool(PoolConfig.create("web", "10.1.0.0/24"))
    ipam.add_pool(PoolConfig.create("db", "10.1.1.0/24"))
    assert sorted(ipam) == ["db", "web"]


def test_second_pool_with_a_taken_name_is_refused() -> None:
    ipam = Ipam()
    ipam.add_pool(PoolConfig.create("web", "10.1.0.0/24"))
    with pytest.raises(AlreadyExists, match="web"):
        ipam.add_pool(PoolConfig.create("web", "10.2.0.0/24"))


def test_unknown_network_is_not_found() -> None:
    with pytest.raises(NotFound, match="nowhere"):
        Ipam().allocate("nowhere", "c1")


def test_removing_a_pool_is_idempotent_and_frees_its_subnet() -> None:
    ipam = Ipam()
    ipam.add_pool(PoolConfig.create("web", "10.1.0.0/24"))
    ipam.remove_pool("web")
    ipam.remove_pool("web")
    assert "web" not in ipam
    ipam.add_pool(PoolConfig.create("db", "10.1.0.0/24"))
    assert len(ipam) == 1


def test_pools_of_two_networks_allocate_independently() -> None:
    ipam = Ipam()
    ipam.add_pool(PoolConfig.create("web", "10.1.0.0/24"))
    ipam.add_pool(PoolConfig.create("db", "10.2.0.0/24"))
    assert ipam.allocate("web", "c1") == IPAddress("10.1.0.2")
    assert ipam.allocate("db", "c1") == IPAddress("10.2.0.2")
    assert ipam.lookup("web", "c1") == IPAddress("10.1.0.2")
    assert ipam.release("db", "c1") == IPAddress("10.2.0.2")
    assert ipam.lookup("db", "c1") is None


def test_on_disk_ipam_keeps_one_directory_per_network(tmp_path: Path) -> None:
    ipam = Ipam.on_disk(str(tmp_path), fsync=False)
    ipam.add_pool(PoolConfig.create("web", "10.1.0.0/24"))
    ipam.add_pool(PoolConfig.create("db", "10.2.0.0/24"))
    ipam.allocate("web", "c1")
    ipam.allocate("db", "c2")
    ipam.close()
    assert (tmp_path / "web" / "10.1.0.2").read_text() == "c1\n"
    assert (tmp_path / "db" / "10.2.0.2").read_text() == "c2\n"


@pytest.mark.parametrize("network", ["", ".", "..", "a/b", ".hidden"])
def test_network_name_that_cannot_be_a_directory_is_refused(tmp_path: Path, network: str) -> None:
    with pytest.raises(InvalidConfig, match="directory"):
        FileStore(tmp_path, network)
