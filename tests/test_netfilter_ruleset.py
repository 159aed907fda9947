"""The iptables verbs on a Ruleset, and iptables-restore semantics.

Behaviours pinned here were observed on this machine's iptables-nft 1.8.9 in a throw-away
namespace (tests/data/capture.sh records the commands behind the golden files).
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.errors import (
    AlreadyExists,
    BackendError,
    Busy,
    CtrnetError,
    InvalidArgument,
    InvalidConfig,
    NotFound,
)
from ctrnet.netfilter import Ruleset
from ctrnet.netfilter.parse import parse_rule


def rules_of(rs: Ruleset, chain: str = "INPUT", table: str = "filter") -> list[str]:
    return [line for line in rs.run(["-t", table, "-S", chain]).splitlines()
            if line.startswith("-A")]


def test_fresh_ruleset_saves_nothing_until_a_table_is_written() -> None:
    rs = Ruleset()
    rs.run("-t raw -L")
    assert rs.save() == ""
    rs.run("-t nat -A POSTROUTING -j MASQUERADE")
    assert rs.save().startswith("*nat\n:PREROUTING ACCEPT [0:0]\n")


def test_tables_save_in_iptables_nft_order_not_creation_order() -> None:
    rs = Ruleset()
    for table in ("nat", "filter", "raw", "mangle"):
        rs.run(f"-t {table} -N X")
    assert [line for line in rs.save().splitlines() if line.startswith("*")] == [
        "*mangle", "*raw", "*filter", "*nat"]


def test_user_chains_save_sorted_bytewise_after_builtins() -> None:
    rs = Ruleset()
    for name in ("zeta", "alpha", "Mid", "_x", "9x", "B"):
        rs.run(["-N", name])
    heads = [line.split()[0] for line in rs.save().splitlines() if line.startswith(":")]
    assert heads == [":INPUT", ":FORWARD", ":OUTPUT", ":9x", ":B", ":Mid", ":_x", ":alpha",
                     ":zeta"]


def test_insert_delete_replace_by_number_and_by_spec() -> None:
    rs = Ruleset()
    rs.run("-A INPUT -s 10.0.0.1 -j ACCEPT")
    rs.run("-A INPUT -s 10.0.0.2 -j ACCEPT")
    rs.run("-I INPUT -s 10.0.0.0 -j DROP")
    rs.run("-I INPUT 4 -s 10.0.0.3 -j DROP")  # one past the end is allowed
    rs.run("-R INPUT 2 -s 10.0.0.9 -j ACCEPT")
    rs.run("-D INPUT 3")
    rs.run("-D INPUT -s 10.0.0.0/32 -j DROP")
    assert rules_of(rs) == ["-A INPUT -s 10.0.0.9/32 -j ACCEPT",
                            "-A INPUT -s 10.0.0.3/32 -j DROP"]


@pytest.mark.parametrize("argv,kind,err", [
    ("-I INPUT 3 -j ACCEPT", BackendError, errno.E2BIG),
    ("-D INPUT 2", BackendError, errno.E2BIG),
    ("-R INPUT 2 -j ACCEPT", BackendError, errno.E2BIG),
    ("-D INPUT -j DROP", NotFound, errno.ENOENT),
    ("-C INPUT -j DROP", NotFound, errno.ENOENT),
    ("-A NOCHAIN -j ACCEPT", NotFound, errno.ENOENT),
    ("-t nat -A FORWARD -j ACCEPT", NotFound, errno.ENOENT),
    ("-t nosuch -A INPUT -j ACCEPT", NotFound, errno.ENOENT),
    ("-N INPUT", AlreadyExists, errno.EEXIST),
    ("-P USER DROP", NotFound, errno.ENOENT),
    ("-P INPUT RETURN", InvalidArgument, errno.EINVAL),
    ("-E USER INPUT", AlreadyExists, errno.EEXIST),
    ("-X nosuch", NotFound, errno.ENOENT),
    ("-A INPUT -j MISSING", InvalidConfig, errno.EINVAL),
    ("-A INPUT -j MASQUERADE", InvalidArgument, errno.EINVAL),
])
def test_refused_verbs_raise_typed_errors_with_iptables_errno(argv: str, kind: type[CtrnetError],
                                                             err: int) -> None:
    rs = Ruleset()
    rs.run("-N USER")
    rs.run("-A INPUT -j ACCEPT")
    before = rs.save(counters=True)
    with pytest.raises(CtrnetError) as info:
        rs.run(argv)
    assert isinstance(info.value, kind)
    assert info.value.errno == err
    assert rs.save(counters=True) == before  # a failed verb changes nothing


def test_check_reports_presence_without_changing_anything() -> None:
    rs = Ruleset()
    rs.run("-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT")
    rs.run("-C INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT")
    with pytest.raises(NotFound):
        rs.run("-t nat -C POSTROUTING -j MASQUERADE")
    assert "*nat" not in rs.save()  # checking did not create the nat table


def test_deleting_a_referenced_chain_is_refused_with_ebusy() -> None:
    rs = Ruleset()
    rs.run("-N DOCKER")
    rs.run("-A FORWARD -j DOCKER")
    with pytest.raises(Busy) as info:
        rs.run("-X DOCKER")
    assert info.value.errno == errno.EBUSY
    assert "CHAIN_DEL failed (Device or resource busy): chain DOCKER" in str(info.value)
    rs.run("-D FORWARD -j DOCKER")
    rs.run("-X DOCKER")
    assert ":DOCKER" not in rs.save()


def test_deleting_a_chain_that_holds_rules_is_refused_with_ebusy_on_nf_tables() -> None:
    rs = Ruleset()
    rs.run("-N USER")
    rs.run("-A USER -j ACCEPT")
    with pytest.raises(Busy):
        rs.run("-X USER")
    rs.run("-F USER")
    rs.run("-X USER")


def test_delete_all_user_chains_is_all_or_nothing() -> None:
    rs = Ruleset()
    for name in ("a", "b", "full"):
        rs.run(["-N", name])
    rs.run("-A full -j ACCEPT")
    with pytest.raises(Busy):
        rs.run("-X")
    assert rs.run("-S").count("-N ") == 3
    rs.run("-F full")
    rs.run("-X")
    assert "-N " not in rs.run("-S")


def test_rename_chain_retargets_jumps() -> None:
    rs = Ruleset()
    rs.run("-N old")
    rs.run("-A INPUT -g old")
    rs.run("-E old new")
    assert rules_of(rs) == ["-A INPUT -g new"]


def test_policy_and_flush_and_zero() -> None:
    rs = Ruleset()
    rs.run("-P FORWARD DROP")
    rs.run("-A FORWARD -j ACCEPT -c 5 500")
    assert "-c 5 500" in rs.run("-S FORWARD -v")
    rs.run("-Z FORWARD")
    assert "-A FORWARD -c 0 0 -j ACCEPT" in rs.run("-S FORWARD -v")
    rs.run("-F")
    assert rs.run("-S") == "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n"


@pytest.mark.parametrize("table,chain,target,ok", [
    ("nat", "PREROUTING", "DNAT --to-destination 10.0.0.2", True),
    ("nat", "OUTPUT", "DNAT --to-destination 10.0.0.2", True),
    ("nat", "POSTROUTING", "DNAT --to-destination 10.0.0.2", False),
    ("nat", "POSTROUTING", "SNAT --to-source 1.1.1.1", True),
    ("nat", "INPUT", "SNAT --to-source 1.1.1.1", True),
    ("nat", "PREROUTING", "SNAT --to-source 1.1.1.1", False),
    ("nat", "POSTROUTING", "MASQUERADE", True),
    ("nat", "INPUT", "MASQUERADE", False),
    ("filter", "FORWARD", "MASQUERADE", False),
    ("mangle", "POSTROUTING", "DNAT --to-destination 1.1.1.1", False),
    ("filter", "INPUT", "REJECT", True),
    ("mangle", "PREROUTING", "REJECT", False),
    ("filter", "INPUT", "REJECT --reject-with tcp-reset", False),
    ("filter", "INPUT", "TRACE", True),  # iptables-nft turns TRACE into nftrace: any table
])
def test_nat_and_reject_targets_only_where_the_kernel_allows_them(table: str, chain: str,
                                                                   target: str, ok: bool) -> None:
    rs = Ruleset()
    argv = f"-t {table} -A {chain} -j {target}"
    if ok:
        rs.run(argv)
    else:
        with pytest.raises(InvalidArgument, match=f"RULE_APPEND failed .* chain {chain}"):
            rs.run(argv)


def test_hook_check_follows_jumps_into_user_chains() -> None:
    rs = Ruleset()
    rs.run("-t nat -N DOCKER")
    rs.run("-t nat -A DOCKER -p tcp -j DNAT --to-destination 10.0.0.2:80")
    rs.run("-t nat -A PREROUTING -j DOCKER")
    with pytest.raises(InvalidArgument):
        rs.run("-t nat -A POSTROUTING -j DOCKER")  # DNAT cannot run in POSTROUTING
    with pytest.raises(InvalidArgument):
        rs.run("-t nat -A DOCKER -j MASQUERADE")  # reachable from PREROUTING


def test_restore_noflush_block_is_atomic() -> None:
    rs = Ruleset()
    rs.run("-A INPUT -j ACCEPT")
    before = rs.save()
    with pytest.raises(InvalidConfig, match="line 4 failed: Chain 'nosuch' does not exist"):
        rs.restore("*filter\n:new1 - [0:0]\n-A INPUT -j DROP\n-A INPUT -j nosuch\nCOMMIT\n")
    assert rs.save() == before


def test_restore_commits_each_table_block_on_its_own() -> None:
    rs = Ruleset()
    with pytest.raises(InvalidConfig):
        rs.restore("*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*nat\n-A POSTROUTING --bogus\nCOMMIT\n")
    assert rules_of(rs) == ["-A INPUT -j ACCEPT"]
    assert "*nat" not in rs.save()


def test_restore_without_commit_changes_nothing() -> None:
    rs = Ruleset()
    with pytest.raises(InvalidConfig, match="COMMIT expected at line 3"):
        rs.restore("*filter\n-A INPUT -j ACCEPT\n")
    assert rs.save() == ""


def test_restore_jump_must_name_a_chain_declared_before() -> None:
    rs = Ruleset()
    with pytest.raises(InvalidConfig, match="Chain 'later' does not exist"):
        rs.restore("*filter\n-A INPUT -j later\n:later - [0:0]\nCOMMIT\n")


def test_restore_redeclared_user_chain_is_flushed_and_kept_referenced() -> None:
    rs = Ruleset()
    rs.restore("*filter\n:u - [0:0]\n-A u -j ACCEPT\n-A FORWARD -j u\nCOMMIT\n")
    rs.restore("*filter\n:u - [0:0]\nCOMMIT\n")
    assert rules_of(rs, "u") == []
    assert rules_of(rs, "FORWARD") == ["-A FORWARD -j u"]


def test_restore_without_noflush_replaces_only_the_tables_it_names() -> None:
    rs = Ruleset()
    rs.run("-N keep")
    rs.run("-A INPUT -j keep")
    rs.run("-t nat -A POSTROUTING -j ACCEPT")
    rs.restore("*filter\n:INPUT DROP [0:0]\nCOMMIT\n", noflush=False)
    assert rs.run("-S") == "-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
    assert rules_of(rs, "POSTROUTING", "nat") == ["-A POSTROUTING -j ACCEPT"]


def test_restore_counters_only_with_c() -> None:
    text = "*filter\n:INPUT DROP [5:100]\n[3:30] -A INPUT -j ACCEPT\nCOMMIT\n"
    plain, counted = Ruleset(), Ruleset()
    plain.restore(text)
    counted.restore(text, counters=True)
    assert plain.save(counters=True).splitlines()[1:5:3] == [":INPUT DROP [0:0]",
                                                             "[0:0] -A INPUT -j ACCEPT"]
    assert counted.save(counters=True).splitlines()[1:5:3] == [":INPUT DROP [5:100]",
                                                               "[3:30] -A INPUT -j ACCEPT"]


def test_restore_refuses_referenced_chain_deletion_with_ebusy() -> None:
    rs = Ruleset()
    rs.restore("*filter\n:REF - [0:0]\n-A INPUT -j REF\nCOMMIT\n")
    with pytest.raises(Busy, match="line 2 failed"):
        rs.restore("*filter\n-X REF\nCOMMIT\n")
    rs.restore("*filter\n-D INPUT -j REF\n-X REF\nCOMMIT\n")
    assert ":REF" not in rs.save()


@pytest.mark.parametrize("text,message", [
    ("*bogus\nCOMMIT\n", "table name 'bogus' invalid"),
    ("-A INPUT -j ACCEPT\n", "line 1 failed"),
    ("*filter\n:INPUT BOGUS [0:0]\nCOMMIT\n", "line 2 failed: Bad policy name."),
    ("*filter\nbogus line\nCOMMIT\n", "Bad argument `bogus'"),
    ("*filter\n-L\nCOMMIT\n", "Illegal option"),
])
def test_restore_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises((InvalidConfig, BackendError), match=message):
        Ruleset().restore(text)


def test_restore_skips_comments_and_blank_lines() -> None:
    rs = Ruleset()
    rs.restore("# Generated by x\n\n*filter\n# inner\n-A INPUT -j ACCEPT\nCOMMIT\n")
    assert rules_of(rs) == ["-A INPUT -j ACCEPT"]


def test_copy_is_independent() -> None:
    rs = Ruleset()
    rs.run("-A INPUT -j ACCEPT")
    dup = rs.copy()
    dup.run("-F INPUT")
    assert rules_of(rs) == ["-A INPUT -j ACCEPT"]
    assert rs.chain("filter", "INPUT").rules == [parse_rule("-j ACCEPT")]


def test_rule_number_past_the_end_lists_and_zeroes_nothing_without_error() -> None:
    rs = Ruleset()
    rs.run("-A INPUT -j ACCEPT -c 1 2")
    assert rs.run("-S INPUT 100") == ""
    rs.run("-Z INPUT 100")
    rs.run("-Z INPUT 1")
    assert "[0:0] -A INPUT -j ACCEPT" in rs.save(counters=True)


def test_listing_single_rule_and_chain() -> None:
    rs = Ruleset()
    rs.run("-N USER")
    rs.run("-A INPUT -s 10.0.0.1 -j USER")
    assert rs.run("-S INPUT 1") == "-A INPUT -s 10.0.0.1/32 -j USER\n"
    assert rs.run("-S USER") == "-N USER\n"
    listing = rs.run("-L USER -n")
    assert listing.startswith("Chain USER (1 references)\n")
    with pytest.raises(NotFound):
        rs.run("-L NOPE")


def test_non_numeric_listing_names_protocols_and_anywhere() -> None:
    rs = Ruleset()
    rs.run("-A INPUT -p icmp --icmp-type echo-request -j LOG")
    line = rs.run("-L INPUT").splitlines()[2]
    assert line.split() == ["LOG", "icmp", "--", "anywhere", "anywhere", "icmp",
                            "echo-request", "LOG", "level", "warn"]
