"""Configuration checks of the core model: a wrong value is refused before anything is built,
with an InvalidConfig whose message starts with the field at fault."""

from __future__ import annotations

import pytest

from ctrnet.cli_network import parse_rate
from ctrnet.errors import InvalidConfig
from ctrnet.network import EndpointSpec, FieldError, Mode, NetworkSpec, PortMapping, mac_for
from ctrnet.types import Proto


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"subnet": "10.0.0.0/33"}, "subnet"),
    ({"subnet": "10.0.0.1/24"}, "subnet"),  # host bits set
    ({"subnet": "not-a-cidr"}, "subnet"),
    ({"subnet": "10.0.0.0/31"}, "subnet"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}, "gateway"),
    ({"subnet": "10.0.0.0/24", "gateway": "10.0.0.255"}, "gateway"),
    ({"subnet": "10.0.0.0/24", "bridge": "a-bridge-name-too-long"}, "bridge"),
    ({"subnet": "10.0.0.0/24", "bridge": "br/0"}, "bridge"),
    ({"subnet": "10.0.0.0/24", "bridge": "br 0"}, "bridge"),
    ({"subnet": "10.0.0.0/24", "mtu": 67}, "mtu"),
    ({"subnet": "10.0.0.0/24", "dns": ("8.8.8",)}, "dns"),
])
def test_invalid_network_values_are_refused_naming_the_field(
        kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as caught:
        NetworkSpec(name="n1", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, InvalidConfig)


@pytest.mark.parametrize("name", ["", "-x", "a" * 65, "bad name", "host", "none"])
def test_invalid_or_reserved_network_names_are_refused(name: str) -> None:
    with pytest.raises(FieldError, match="^name: "):
        NetworkSpec(name=name, subnet="10.0.0.0/24")


def test_a_long_network_name_needs_an_explicit_bridge_name() -> None:
    with pytest.raises(FieldError, match="^bridge: .*give one"):
        NetworkSpec(name="a-rather-long-name", subnet="10.0.0.0/24")
    spec = NetworkSpec(name="a-rather-long-name", subnet="10.0.0.0/24", bridge="br9")
    assert spec.bridge == "br9"


def test_defaults_are_the_first_usable_gateway_and_br_dash_name() -> None:
    spec = NetworkSpec(name="n1", subnet="10.1.2.0/24")
    assert (spec.bridge, spec.gateway, spec.prefixlen) == ("br-n1", "10.1.2.1", 24)
    assert NetworkSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(("text", "expected"), [
    ("8080:80", PortMapping(8080, 80)),
    ("8080:80/udp", PortMapping(8080, 80, Proto.UDP)),
    ("198.51.100.1:8080:80/tcp", PortMapping(8080, 80, Proto.TCP, "198.51.100.1")),
])
def test_port_mappings_parse_dockers_syntax(text: str, expected: PortMapping) -> None:
    assert PortMapping.parse(text) == expected
    assert PortMapping.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["0:80", "8080:65536", "8080", "a:b", "8080:80/sctp",
                                  "300.1.1.1:80:80"])
def test_bad_port_mappings_are_refused(text: str) -> None:
    with pytest.raises(FieldError, match="^ports"):
        PortMapping.parse(text)


def test_one_host_port_published_twice_is_refused_unless_addresses_differ() -> None:
    with pytest.raises(FieldError, match="published twice"):
        EndpointSpec("c1", "n1", ports=(PortMapping(80, 80), PortMapping(80, 81)))
    with pytest.raises(FieldError, match="published twice"):
        EndpointSpec("c1", "n1", ports=(PortMapping(80, 80, host_ip="192.0.2.1"),
                                        PortMapping(80, 81)))
    EndpointSpec("c1", "n1", ports=(PortMapping(80, 80, host_ip="192.0.2.1"),
                                    PortMapping(80, 81, host_ip="192.0.2.2"),
                                    PortMapping(80, 82, Proto.UDP)))


def test_modes_come_from_the_pseudo_networks_and_take_no_ports() -> None:
    assert EndpointSpec("c1", "host").mode is Mode.HOST
    assert EndpointSpec("c1", "none").mode is Mode.NONE
    assert EndpointSpec("c1", "n1").mode is Mode.BRIDGE
    with pytest.raises(FieldError, match="^network: "):
        EndpointSpec("c1", "none", ports=(PortMapping(80, 80),))


def test_mac_is_derived_from_the_address_like_dockers() -> None:
    assert mac_for("172.17.0.2") == "02:42:ac:11:00:02"


@pytest.mark.parametrize(("text", "bps"), [("10mbit", 10_000_000), ("500kbit", 500_000),
                                           ("8000", 8000), ("1.5gbit", 1_500_000_000),
                                           ("1000bps", 8000)])
def test_rates_parse_tc_units(text: str, bps: int) -> None:
    assert parse_rate(text) == bps


def test_a_rate_without_a_number_is_refused() -> None:
    with pytest.raises(InvalidConfig):
        parse_rate("fast")
