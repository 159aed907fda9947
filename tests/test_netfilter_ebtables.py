"""The ebtables filter table: rule syntax (both `!` positions), verbs, listing and verdicts."""

from __future__ import annotations

import errno

import pytest

from ctrnet.errors import BackendError, InvalidConfig, NotFound
from ctrnet.netfilter.ebtables import EbtablesFilter, Frame, MacMatch, parse_mac, parse_rule

MAC1 = 0x020000000001
MAC2 = 0x020000000002
IPV4, ARP, IPV6 = 0x0800, 0x0806, 0x86DD


def forward_rules(eb: EbtablesFilter) -> list[str]:
    return eb.run("-L FORWARD").splitlines()[3:]


def test_both_inversion_spellings_are_one_rule_printed_the_ebtables_way() -> None:
    assert parse_rule(["!", "-s", "02:00:00:00:00:01"], "FORWARD") == parse_rule(
        ["-s", "!", "2:0:0:0:0:1"], "FORWARD")
    eb = EbtablesFilter()
    eb.run("-A FORWARD ! -i veth0 ! -o veth1 ! -p ARP -j ACCEPT")
    assert forward_rules(eb) == ["-p ! ARP -i ! veth0 -o ! veth1 -j ACCEPT"]


@pytest.mark.parametrize("text,match", [
    ("Broadcast", MacMatch(0xFFFFFFFFFFFF)),
    ("multicast", MacMatch(0x010000000000, 0x010000000000)),
    ("02:00:00:00:00:02/ff:ff:ff:00:00:00", MacMatch(0x020000000000, 0xFFFFFF000000)),
])
def test_mac_names_and_masks(text: str, match: MacMatch) -> None:
    assert parse_mac(text, "source") == match


def test_append_insert_delete_flush() -> None:
    eb = EbtablesFilter()
    eb.run("-A FORWARD -p IPv4 -j ACCEPT")
    eb.run("-A FORWARD -p 0x0806 -j ACCEPT")
    eb.run("-I FORWARD -s 02:00:00:00:00:09 -j DROP")
    eb.run("-I FORWARD 2 -j ACCEPT")
    eb.run("-D FORWARD -p ARP -j ACCEPT")
    eb.run("-D FORWARD 2")
    assert forward_rules(eb) == ["-s 02:00:00:00:00:09 -j DROP", "-p IPv4 -j ACCEPT"]
    eb.run("-F FORWARD")
    assert forward_rules(eb) == []


def test_rule_without_target_continues() -> None:
    eb = EbtablesFilter()
    eb.run("-A FORWARD -p IPv4")
    assert forward_rules(eb) == ["-p IPv4 -j CONTINUE"]


@pytest.mark.parametrize("argv,kind,message", [
    ("-A NOSUCH -j DROP", NotFound, "No chain/target/match by that name"),
    ("-A FORWARD -j NOSUCH", InvalidConfig, "Chain 'NOSUCH' does not exist"),
    ("-A FORWARD --bogus -j DROP", InvalidConfig, "Unknown argument: '--bogus'"),
    ("-A FORWARD -s zz:00:00:00:00:01 -j DROP", InvalidConfig,
     "Problem with specified source mac 'zz:00:00:00:00:01'"),
    ("-A FORWARD -s 02:00:00:00:00:01 -s 02:00:00:00:00:02", InvalidConfig,
     "Multiple use of same option not allowed"),
    ("-A FORWARD -p 0x05ff", InvalidConfig, "protocols have values above or equal to 0x0600"),
    ("-A OUTPUT -i veth0 -j DROP", InvalidConfig, "Use -i only in INPUT, FORWARD"),
    ("-A INPUT -o veth0 -j DROP", InvalidConfig, "Use -o only in OUTPUT, FORWARD"),
    ("-D FORWARD -p ARP -j ACCEPT", NotFound, "Bad rule"),
    ("-D FORWARD 100", BackendError, "Index of deletion too big"),
    ("-I FORWARD 100 -j ACCEPT", BackendError, "Index of insertion too big"),
    ("-I FORWARD 0 -j ACCEPT", InvalidConfig, "Invalid rule number `0'"),
    ("-P FORWARD RETURN", InvalidConfig, "Policy RETURN only allowed for user defined chains"),
    ("-P FORWARD CONTINUE", InvalidConfig, "Wrong policy 'CONTINUE'"),
])
def test_refusals_use_ebtables_words(argv: str, kind: type, message: str) -> None:
    eb = EbtablesFilter()
    with pytest.raises(kind, match=message):
        eb.run(argv)


def test_index_errors_carry_e2big() -> None:
    with pytest.raises(BackendError) as info:
        EbtablesFilter().run("-D FORWARD 1")
    assert info.value.errno == errno.E2BIG


def test_listing_with_numbers_and_counters_after_traffic() -> None:
    eb = EbtablesFilter()
    eb.run("-A FORWARD -s 02:00:00:00:00:01 -j DROP")
    eb.evaluate("FORWARD", Frame(MAC1, MAC2, IPV4, "veth0", "veth1", length=98))
    assert eb.run("-L FORWARD --Ln --Lc").splitlines()[3] == (
        "1 -s 02:00:00:00:00:01 -j DROP , pcnt = 1 -- bcnt = 98")


@pytest.mark.parametrize("rule,frame,verdict", [
    ("-s 02:00:00:00:00:01 -j DROP", Frame(MAC1, MAC2, IPV4), "DROP"),
    ("-s ! 02:00:00:00:00:01 -j DROP", Frame(MAC1, MAC2, IPV4), "ACCEPT"),
    ("! -d 02:00:00:00:00:01 -j DROP", Frame(MAC1, MAC2, IPV4), "DROP"),
    ("-d 02:00:00:00:00:00/ff:ff:ff:00:00:00 -j DROP", Frame(MAC1, MAC2, IPV4), "DROP"),
    ("-d Broadcast -j DROP", Frame(MAC1, 0xFFFFFFFFFFFF, ARP), "DROP"),
    ("-d Multicast -j DROP", Frame(MAC1, 0x01005E000001, IPV4), "DROP"),
    ("-d Multicast -j DROP", Frame(MAC1, MAC2, IPV4), "ACCEPT"),
    ("-p ARP -j DROP", Frame(MAC1, MAC2, ARP), "DROP"),
    ("-p ! IPv6 -j DROP", Frame(MAC1, MAC2, IPV6), "ACCEPT"),
    ("-i veth+ -j DROP", Frame(MAC1, MAC2, IPV4, "veth3", "veth1"), "DROP"),
    ("-o ! veth1 -j DROP", Frame(MAC1, MAC2, IPV4, "veth3", "veth1"), "ACCEPT"),
    ("-j RETURN", Frame(MAC1, MAC2, IPV4), "ACCEPT"),
])
def test_forward_verdicts(rule: str, frame: Frame, verdict: str) -> None:
    eb = EbtablesFilter()
    eb.run(f"-A FORWARD {rule}")
    eb.run("-A FORWARD -j CONTINUE")
    assert eb.evaluate("FORWARD", frame)[0] == verdict


def test_policy_decides_when_no_rule_is_terminal() -> None:
    eb = EbtablesFilter()
    eb.run("-P FORWARD DROP")
    eb.run("-A FORWARD -p IPv4 -j CONTINUE")
    assert eb.evaluate("FORWARD", Frame(MAC1, MAC2, IPV4)) == ("DROP", None)
    assert eb.run("-L FORWARD").splitlines()[2] == (
        "Bridge chain: FORWARD, entries: 1, policy: DROP")
