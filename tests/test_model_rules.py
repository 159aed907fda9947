"""ctrnet's rules as a function of its state: Docker's layout in ctrnet's own chains, rendered
from the rule model, replacing the chains' content in one iptables-restore."""

from __future__ import annotations

from ctrnet.netfilter import Ruleset
from ctrnet.network import EndpointRecord, Mode, NetworkSpec, PortMapping
from ctrnet.rules import (
    JUMPS,
    base_remove_text,
    chains_present,
    ebtables_spoof_rules,
    jumps_present,
    render,
    restore_text,
)

N1 = NetworkSpec(name="n1", subnet="10.1.0.0/24", bridge="br1")
N2 = NetworkSpec(name="n2", subnet="10.2.0.0/24", bridge="br2", icc=False, masquerade=False)
EP = EndpointRecord(container="c1", network="n1", mode=Mode.BRIDGE, ifname="eth0",
                    host_ifname="vc0123456789a", ip="10.1.0.2", prefixlen=24,
                    gateway="10.1.0.1", mac="02:42:0a:01:00:02",
                    ports=(PortMapping(8080, 80),), active=True)


def _lines(table: str) -> list[str]:
    return render([N1, N2], [EP]).lines(table)


def test_masquerade_is_the_guides_rule_for_networks_that_ask_for_it() -> None:
    nat = _lines("nat")
    assert "-A CTRNET-POSTROUTING -s 10.1.0.0/24 ! -o br1 -j MASQUERADE" in nat
    assert not any("10.2.0.0/24" in line for line in nat)


def test_published_port_is_dnat_plus_hairpin_masquerade() -> None:
    nat = _lines("nat")
    assert ("-A CTRNET-DNAT -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:80"
            in nat)
    assert ("-A CTRNET-POSTROUTING -s 10.1.0.0/24 -d 10.1.0.2/32 -p tcp -m tcp --dport 80 "
            "-j MASQUERADE" in nat)


def test_isolation_uses_two_stages_like_dockers() -> None:
    rules = _lines("filter")
    assert "-A CTRNET-ISOLATION-1 -i br1 ! -o br1 -j CTRNET-ISOLATION-2" in rules
    assert "-A CTRNET-ISOLATION-2 -o br2 -j DROP" in rules
    assert rules.index("-A CTRNET-ISOLATION-1 -j RETURN") > rules.index(
        "-A CTRNET-ISOLATION-1 -i br2 ! -o br2 -j CTRNET-ISOLATION-2")


def test_icc_off_drops_bridge_to_same_bridge_only_for_that_network() -> None:
    rules = _lines("filter")
    assert "-A CTRNET-FORWARD -i br2 -o br2 -j DROP" in rules
    assert "-A CTRNET-FORWARD -i br1 -o br1 -j DROP" not in rules


def test_ip_antispoofing_matches_the_physdev_port_and_the_endpoints_address() -> None:
    assert ("-A CTRNET-SPOOF ! -s 10.1.0.2/32 -m physdev --physdev-in vc0123456789a -j DROP"
            in _lines("filter"))
    assert ebtables_spoof_rules(EP)[0] == [
        "-A", "FORWARD", "-i", "vc0123456789a", "-s", "!", "02:42:0a:01:00:02", "-j", "DROP"]


def test_inactive_or_other_mode_endpoints_get_no_rules() -> None:
    from dataclasses import replace

    none_mode = EndpointRecord(container="c9", network="none", mode=Mode.NONE, active=True)
    bare = render([N1], []).lines("nat") + render([N1], []).lines("filter")
    for endpoint in (none_mode, replace(EP, active=False)):
        rules = render([N1], [endpoint])
        assert rules.lines("nat") + rules.lines("filter") == bare


def test_restore_text_replaces_chain_contents_and_adds_jumps_once() -> None:
    ruleset = Ruleset()
    ruleset.restore(restore_text(render([N1], [EP]), add_jumps=JUMPS))
    ruleset.restore(restore_text(render([N1], [])))
    saved = ruleset.save()
    assert jumps_present(saved) == set(JUMPS)
    assert saved.count("-j CTRNET-FORWARD") == 1
    assert "--dport 8080" not in saved  # the endpoint's rules went with the second render
    ruleset.restore(base_remove_text(jumps_present(saved)))
    after = ruleset.save()
    assert chains_present(after) == set() and jumps_present(after) == set()
    assert "CTRNET" not in after
