"""iptables through the Backend: restore/save text, counters, atomic COMMIT blocks, the
kernel's refusals, and how a packet walks the chains (rule order, RETURN, -g, LOG and MARK
going on). Traversal is observed through rule counters after a ping. Pinned on Linux 6.18
with iptables 1.8.9 (nf_tables): each `*table … COMMIT` block is one nf_tables transaction.
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError

from .topology import point_to_point, rule_packets

pytestmark = pytest.mark.requires("iptables", "ping")

#: A Docker host's filter and nat tables, written exactly as iptables-save prints them.
DOCKER_RULESET = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-USER - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment "ssh in" -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o br0 -j DOCKER
-A FORWARD -i br0 ! -o br0 -j ACCEPT
-A FORWARD -i br0 -o br0 -j ACCEPT
-A FORWARD -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -j LOG --log-prefix "fwd-drop: "
-A DOCKER -d 172.20.0.2/32 ! -i br0 -o br0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.20.0.0/24 ! -o br0 -j MASQUERADE
-A POSTROUTING -s 172.20.0.2/32 -d 172.20.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -i br0 -j RETURN
-A DOCKER ! -i br0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.20.0.2:80
COMMIT
"""

EMPTY_FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
ICMP_ECHO_BYTES = 84  # 20 bytes IPv4 + 8 ICMP + ping's 56 bytes of data


def _filter(*lines: str) -> str:
    return "*filter\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"


def _error(backend: Backend, ns: str, text: str) -> CtrnetError:
    with pytest.raises(CtrnetError) as caught:
        backend.iptables_restore(ns, text)
    return caught.value


# -- restore and save ------------------------------------------------------------------------
def test_fresh_namespace_saves_no_table(backend: Backend) -> None:
    # iptables-nft: tables exist only once something was written to them.
    assert backend.iptables_save(backend.host_ns) == ""


def test_restore_then_save_round_trips_a_docker_ruleset(backend: Backend) -> None:
    backend.iptables_restore(backend.host_ns, DOCKER_RULESET)
    assert backend.iptables_save(backend.host_ns) == DOCKER_RULESET


def test_save_of_one_table_prints_only_that_block(backend: Backend) -> None:
    backend.iptables_restore(backend.host_ns, DOCKER_RULESET)
    nat = DOCKER_RULESET[DOCKER_RULESET.index("*nat"):]
    assert backend.iptables_save(backend.host_ns, table="nat") == nat


def test_save_spells_rules_canonically(backend: Backend) -> None:
    backend.iptables_restore(backend.host_ns, _filter(
        "-A INPUT -s 10.1.2.3 -p tcp --dport 80 -j ACCEPT",
        "-A INPUT -d 10.9.9.9/8 -m mark --mark 0x1 -j DROP",
    ))
    assert backend.iptables_save(backend.host_ns) == _filter(
        ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -s 10.1.2.3/32 -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A INPUT -d 10.0.0.0/8 -m mark --mark 0x1 -j DROP",
    )


def test_test_mode_checks_text_but_applies_nothing(backend: Backend) -> None:
    host = backend.host_ns
    backend.iptables_restore(host, DOCKER_RULESET, test=True)
    assert backend.iptables_save(host) == ""
    with pytest.raises(CtrnetError) as caught:
        backend.iptables_restore(host, _filter("-A INPUT --bogus -j ACCEPT"), test=True)
    assert caught.value.errno == errno.EINVAL


def test_noflush_restore_appends_to_what_the_table_holds(backend: Backend) -> None:
    host = backend.host_ns
    backend.iptables_restore(host, _filter("-A INPUT -s 10.0.0.1/32 -j DROP"))
    backend.iptables_restore(host, _filter("-A INPUT -s 10.0.0.2/32 -j DROP"))
    assert backend.iptables_save(host, table="filter") == _filter(
        ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -s 10.0.0.1/32 -j DROP", "-A INPUT -s 10.0.0.2/32 -j DROP")


def test_flushing_restore_replaces_only_the_tables_it_names(backend: Backend) -> None:
    host = backend.host_ns
    backend.iptables_restore(host, DOCKER_RULESET)
    backend.iptables_restore(host, _filter("-A INPUT -s 10.1.1.1/32 -j DROP"), noflush=False)
    saved = backend.iptables_save(host)
    # The filter block starts over (policies back to ACCEPT, user chains gone); nat stays.
    assert saved.startswith(_filter(
        ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -s 10.1.1.1/32 -j DROP"))
    assert saved.endswith(DOCKER_RULESET[DOCKER_RULESET.index("*nat"):])


def test_insert_puts_a_rule_first_append_last(backend: Backend) -> None:
    host = backend.host_ns
    backend.iptables_restore(host, _filter(
        "-A INPUT -s 10.0.0.2/32 -j DROP",
        "-I INPUT -s 10.0.0.1/32 -j DROP",
        "-A INPUT -s 10.0.0.3/32 -j DROP",
        "-I INPUT 2 -s 10.0.0.9/32 -j DROP",
    ))
    rules = [line for line in backend.iptables_save(host).splitlines() if line.startswith("-A")]
    assert rules == [f"-A INPUT -s 10.0.0.{n}/32 -j DROP" for n in (1, 9, 2, 3)]


# -- errors and atomicity -------------------------------------------------------------------
def test_unknown_option_names_its_line_and_leaves_the_block_unapplied(backend: Backend) -> None:
    host = backend.host_ns
    err = _error(backend, host, _filter(":CUSTOM - [0:0]",
                                        "-A INPUT -s 10.0.0.1/32 -j DROP",
                                        "-A INPUT -p tcp --bogus 1 -j ACCEPT"))
    assert err.errno == errno.EINVAL
    assert "line 4" in str(err) and "--bogus" in str(err)
    # Neither the chain nor the good rule before the bad line was applied.
    assert backend.iptables_save(host) == ""


def test_a_failing_block_keeps_the_blocks_committed_before_it(backend: Backend) -> None:
    host = backend.host_ns
    text = _filter("-A INPUT -s 10.0.0.1/32 -j DROP") + (
        "*nat\n-A POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\n-A POSTROUTING -j NO-SUCH-CHAIN\n"
        "COMMIT\n")
    err = _error(backend, host, text)
    assert err.errno == errno.EINVAL
    assert backend.iptables_save(host, table="filter") == _filter(
        ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -s 10.0.0.1/32 -j DROP")
    assert "MASQUERADE" not in backend.iptables_save(host)


def test_a_failing_block_leaves_a_filled_table_as_it_was(backend: Backend) -> None:
    host = backend.host_ns
    backend.iptables_restore(host, DOCKER_RULESET)
    _error(backend, host, _filter("-F FORWARD", "-X DOCKER-USER", "-A INPUT -j NOWHERE"))
    assert backend.iptables_save(host) == DOCKER_RULESET


def test_jump_to_a_missing_chain_is_refused(backend: Backend) -> None:
    err = _error(backend, backend.host_ns, _filter("-A INPUT -p icmp -j MISSING"))
    assert err.errno == errno.EINVAL
    assert "MISSING" in str(err)


def test_deleting_a_chain_that_is_jumped_to_is_busy(backend: Backend) -> None:
    host = backend.host_ns
    backend.iptables_restore(host, _filter(":USED - [0:0]", "-A INPUT -j USED"))
    err = _error(backend, host, _filter("-X USED"))
    assert err.errno == errno.EBUSY
    assert ":USED - [0:0]" in backend.iptables_save(host)


def test_missing_commit_is_refused(backend: Backend) -> None:
    err = _error(backend, backend.host_ns, "*filter\n-A INPUT -j ACCEPT\n")
    assert err.errno == errno.EINVAL
    assert backend.iptables_save(backend.host_ns) == ""


# -- counters ----------------------------------------------------------------------------------
def test_save_with_counters_shows_packets_and_bytes_per_rule(backend: Backend) -> None:
    host_ip, peer_ip = point_to_point(backend)
    backend.iptables_restore("peer", _filter("-A INPUT -p icmp -j ACCEPT",
                                             "-A INPUT -p tcp -j ACCEPT"))
    assert backend.ping(backend.host_ns, peer_ip, count=2, interval=0.05).received == 2
    assert backend.iptables_save("peer", counters=True) == _filter(
        ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
        f"[2:{2 * ICMP_ECHO_BYTES}] -A INPUT -p icmp -j ACCEPT", "[0:0] -A INPUT -p tcp -j ACCEPT")


def test_zero_resets_one_chain_or_the_whole_table(backend: Backend) -> None:
    _, peer_ip = point_to_point(backend)
    backend.iptables_restore("peer", _filter("-A INPUT -p icmp -j ACCEPT",
                                             "-A OUTPUT -p icmp -j ACCEPT"))
    backend.ping(backend.host_ns, peer_ip)
    backend.iptables_zero("peer", chain="OUTPUT")
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j ACCEPT") == 1
    assert rule_packets(backend, "peer", "filter", "-A OUTPUT -p icmp -j ACCEPT") == 0
    backend.iptables_zero("peer")
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j ACCEPT") == 0


def test_zeroing_a_missing_chain_is_enoent(backend: Backend) -> None:
    backend.iptables_restore(backend.host_ns, _filter("-A INPUT -j ACCEPT"))
    with pytest.raises(CtrnetError) as caught:
        backend.iptables_zero(backend.host_ns, chain="NOPE")
    assert caught.value.errno == errno.ENOENT


# -- traversal ---------------------------------------------------------------------------------
def test_first_matching_verdict_wins(backend: Backend) -> None:
    _, peer_ip = point_to_point(backend)
    backend.iptables_restore("peer", _filter("-A INPUT -p icmp -j DROP",
                                             "-A INPUT -p icmp -j ACCEPT"))
    assert backend.ping(backend.host_ns, peer_ip, timeout=0.5).received == 0
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j DROP") == 1
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j ACCEPT") == 0


def test_return_from_a_user_chain_resumes_after_the_jump(backend: Backend) -> None:
    _, peer_ip = point_to_point(backend)
    backend.iptables_restore("peer", _filter(
        ":CHECK - [0:0]",
        "-A INPUT -p icmp -j CHECK",
        "-A INPUT -p icmp -j ACCEPT",
        "-A CHECK -p icmp -j RETURN",
        "-A CHECK -j DROP",
    ))
    assert backend.ping(backend.host_ns, peer_ip).received == 1
    assert rule_packets(backend, "peer", "filter", "-A CHECK -p icmp -j RETURN") == 1
    assert rule_packets(backend, "peer", "filter", "-A CHECK -j DROP") == 0
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j ACCEPT") == 1


@pytest.mark.parametrize(("how", "delivered"), [("-g", True), ("-j", False)])
def test_return_after_goto_skips_the_chain_that_did_the_goto(
    backend: Backend, how: str, delivered: bool
) -> None:
    """OUTER sends the packet on to INNER, which RETURNs. After `-g` (no return point pushed)
    the walk resumes in INPUT after `-j OUTER`; after `-j` it resumes in OUTER, at its DROP."""
    _, peer_ip = point_to_point(backend)
    backend.iptables_restore("peer", _filter(
        ":INNER - [0:0]",
        ":OUTER - [0:0]",
        "-A INPUT -p icmp -j OUTER",
        "-A INPUT -p icmp -j ACCEPT",
        f"-A OUTER -p icmp {how} INNER",
        "-A OUTER -p icmp -j DROP",
        "-A INNER -p icmp -j RETURN",
    ))
    assert backend.ping(backend.host_ns, peer_ip, timeout=0.5).received == int(delivered)
    assert rule_packets(backend, "peer", "filter", "-A INNER -p icmp -j RETURN") == 1
    assert rule_packets(backend, "peer", "filter", "-A OUTER -p icmp -j DROP") == int(not delivered)
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j ACCEPT") == int(delivered)


def test_log_and_mark_let_the_packet_go_on(backend: Backend) -> None:
    _, peer_ip = point_to_point(backend)
    log = '-A INPUT -p icmp -j LOG --log-prefix "ctrnet: "'
    mark = "-A INPUT -p icmp -j MARK --set-xmark 0x7/0xffffffff"
    marked = "-A INPUT -p icmp -m mark --mark 0x7 -j DROP"
    backend.iptables_restore("peer", _filter(log, mark, marked))
    assert backend.ping(backend.host_ns, peer_ip, timeout=0.5).received == 0
    # Each rule saw the echo request: LOG and MARK did not end the walk, and the mark MARK
    # set is what the third rule matched on.
    assert [rule_packets(backend, "peer", "filter", rule) for rule in (log, mark, marked)] == [
        1, 1, 1]


def test_falling_off_a_user_chain_returns_to_the_caller(backend: Backend) -> None:
    _, peer_ip = point_to_point(backend)
    backend.iptables_restore("peer", _filter(
        ":EMPTYISH - [0:0]",
        "-A INPUT -p icmp -j EMPTYISH",
        "-A INPUT -p icmp -j DROP",
        "-A EMPTYISH -p tcp -j ACCEPT",
    ))
    assert backend.ping(backend.host_ns, peer_ip, timeout=0.5).received == 0
    assert rule_packets(backend, "peer", "filter", "-A INPUT -p icmp -j DROP") == 1
