"""iptables argv and iptables-restore lines to rules and back: canonical forms and refusals.

The expected spellings are those this machine's iptables-save printed for the same input
(see tests/data/capture.sh and the golden files); here each is pinned one by one.
"""

from __future__ import annotations

import pytest

from ctrnet.errors import InvalidConfig
from ctrnet.netfilter.model import (
    CommentMatch,
    CtState,
    Jump,
    MarkTarget,
    Network,
    PortMatch,
    PortRange,
    Standard,
    Verdict,
)
from ctrnet.netfilter.parse import Verb, parse_command, parse_rule
from ctrnet.netfilter.render import append_line, rule_argv, rule_spec
from ctrnet.netfilter.values import parse_network, save_string, split_restore_line


def canon(args: str, chain: str = "FORWARD") -> str:
    return rule_spec(parse_rule(args, chain))


@pytest.mark.parametrize("given,printed", [
    ("-s 10.0.0.1 -j ACCEPT", "-s 10.0.0.1/32 -j ACCEPT"),
    ("-s 10.0.0.5/31 -j ACCEPT", "-s 10.0.0.4/31 -j ACCEPT"),
    ("-d 192.168.1.5/24 ! -s 10.0.0.0/8 -j DROP", "! -s 10.0.0.0/8 -d 192.168.1.0/24 -j DROP"),
    ("-s 10.1.2.3/255.255.0.0 -j ACCEPT", "-s 10.1.0.0/16 -j ACCEPT"),
    ("-s 10.1.2.3/255.0.255.0 -j ACCEPT", "-s 10.0.2.0/255.0.255.0 -j ACCEPT"),
    ("-d 0.0.0.0/0 -j ACCEPT", "-j ACCEPT"),
    ("-i + -j ACCEPT", "-j ACCEPT"),
    ("-o br0 -i eth+ -j ACCEPT", "-i eth+ -o br0 -j ACCEPT"),
    ("-p 6 -j ACCEPT", "-p tcp -j ACCEPT"),
    ("-p 47 -j ACCEPT", "-p gre -j ACCEPT"),
    ("-p 200 -j ACCEPT", "-p 200 -j ACCEPT"),
    ("-p all -j ACCEPT", "-j ACCEPT"),
    ("-p TCP --dport 80 -j ACCEPT", "-p tcp -m tcp --dport 80 -j ACCEPT"),
    ("-p tcp --dport 22 --sport 1024: -j ACCEPT",
     "-p tcp -m tcp --sport 1024:65535 --dport 22 -j ACCEPT"),
    ("-p tcp --dport :1024 -j ACCEPT", "-p tcp -m tcp --dport 0:1024 -j ACCEPT"),
    ("-p tcp --dport 5:5 -j ACCEPT", "-p tcp -m tcp --dport 5 -j ACCEPT"),
    ("-p tcp ! --dport :1024 -j ACCEPT", "-p tcp -m tcp --dport 1025:65535 -j ACCEPT"),
    ("-p udp ! --sport 0:10 -j ACCEPT", "-p udp -m udp --sport 11:65535 -j ACCEPT"),
    ("-p tcp ! --dport 0 -j ACCEPT", "-p tcp -m tcp ! --dport 0 -j ACCEPT"),
    ("-p tcp ! --dport 1000: -j ACCEPT", "-p tcp -m tcp ! --dport 1000:65535 -j ACCEPT"),
    ("-p tcp --dport 0:65535 -j ACCEPT", "-p tcp -m tcp -j ACCEPT"),
    ("-p udp ! --dport 1000:2000 -j ACCEPT", "-p udp -m udp ! --dport 1000:2000 -j ACCEPT"),
    ("-p tcp --destination-port 1 --source-port 2 -j ACCEPT",
     "-p tcp -m tcp --sport 2 --dport 1 -j ACCEPT"),
    ("-m mark --mark 1 -m comment --comment c1 -p tcp --dport 5 -s 1.2.3.4 -j ACCEPT",
     "-s 1.2.3.4/32 -p tcp -m mark --mark 0x1 -m comment --comment c1 -m tcp --dport 5 "
     "-j ACCEPT"),
    ("-p icmp --icmp-type echo-request -j ACCEPT", "-p icmp -m icmp --icmp-type 8 -j ACCEPT"),
    ("-p icmp --icmp-type port-unreachable -j ACCEPT",
     "-p icmp -m icmp --icmp-type 3/3 -j ACCEPT"),
    ("-p icmp ! --icmp-type any -j ACCEPT", "-p icmp -m icmp ! --icmp-type any -j ACCEPT"),
    ("-p tcp -m multiport --destination-ports 80,443,8000:8080 -j ACCEPT",
     "-p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT"),
    ("-p udp -m multiport ! --ports 53 -j ACCEPT", "-p udp -m multiport ! --ports 53 -j ACCEPT"),
    ("-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
     "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
    ("-m conntrack --ctstate dnat,snat,untracked,invalid,new -j ACCEPT",
     "-m conntrack --ctstate INVALID,NEW,UNTRACKED,SNAT,DNAT -j ACCEPT"),
    ("-m state --state ESTABLISHED,NEW -j ACCEPT", "-m state --state NEW,ESTABLISHED -j ACCEPT"),
    ("-m addrtype --src-type LOCAL,UNICAST ! --dst-type multicast --limit-iface-in -j ACCEPT",
     "-m addrtype --src-type UNICAST,LOCAL ! --dst-type MULTICAST --limit-iface-in -j ACCEPT"),
    ("-m mark --mark 5/0xff -j ACCEPT", "-m mark --mark 0x5/0xff -j ACCEPT"),
    ("-m mark --mark 0xffffffff/0xffffffff -j ACCEPT", "-m mark --mark 0xffffffff -j ACCEPT"),
    ("-m mark --mark 0/0 -j ACCEPT", "-m mark --mark 0x0/0x0 -j ACCEPT"),
    ("-m physdev --physdev-is-bridged --physdev-out veth+ -j ACCEPT",
     "-m physdev --physdev-out veth+ --physdev-is-bridged -j ACCEPT"),
    ("-m comment --comment \"\" -j ACCEPT", '-m comment --comment "\\"\\"" -j ACCEPT'),
    ("-j REJECT", "-j REJECT --reject-with icmp-port-unreachable"),
    ("-p tcp -j REJECT --reject-with tcp-rst", "-p tcp -j REJECT --reject-with tcp-reset"),
    ("-j REJECT --reject-with admin-prohib", "-j REJECT --reject-with icmp-admin-prohibited"),
    ("-j LOG --log-level warning", "-j LOG"),
    ("-j LOG --log-level debug --log-prefix drop", "-j LOG --log-prefix drop --log-level 7"),
    ("-j LOG --log-level emerg", "-j LOG --log-level 0"),
    ("-j MARK --set-mark 0x10", "-j MARK --set-xmark 0x10/0xffffffff"),
    ("-j MARK --set-mark 0x10/0xff", "-j MARK --set-xmark 0x10/0xff"),
    ("-j MARK --and-mark 0x10", "-j MARK --set-xmark 0x0/0xffffffef"),
    ("-j MARK --or-mark 0x10", "-j MARK --set-xmark 0x10/0x10"),
    ("-j MARK --xor-mark 0x10", "-j MARK --set-xmark 0x10/0x0"),
    ("-g USER", "-g USER"),
    ("-j USER", "-j USER"),
    ("-j TRACE", "-j TRACE"),
    ("-p tcp -j MASQUERADE --to-ports 1000-2000", "-p tcp -j MASQUERADE --to-ports 1000-2000"),
    ("-p udp -j MASQUERADE --to-ports 1000-1000", "-p udp -j MASQUERADE --to-ports 1000"),
    ("-j SNAT --to-source 1.2.3.4-1.2.3.4", "-j SNAT --to-source 1.2.3.4"),
    ("-p udp -j SNAT --to-source 1.2.3.4-1.2.3.6:1000", "-p udp -j SNAT --to-source "
     "1.2.3.4-1.2.3.6:1000"),
    ("-j SNAT --to-source 1.1.1.1 --random --persistent",
     "-j SNAT --to-source 1.1.1.1 --random --persistent"),
    ("-p tcp -j DNAT --to-destination :80", "-p tcp -j DNAT --to-destination :80"),
    ("-p tcp -j DNAT --to-destination 10.0.0.2:8080-8090",
     "-p tcp -j DNAT --to-destination 10.0.0.2:8080-8090"),
    ("--source 1.1.1.1 --destination 2.2.2.2 --in-interface lo --out-interface lo "
     "--protocol tcp --jump ACCEPT", "-s 1.1.1.1/32 -d 2.2.2.2/32 -i lo -o lo -p tcp -j ACCEPT"),
    ("-s 10.0.0.1", "-s 10.0.0.1/32"),
])
def test_rule_prints_in_iptables_save_canonical_form(given: str, printed: str) -> None:
    if given.startswith("-m comment --comment \"\""):
        rule = parse_rule(["-m", "comment", "--comment", "", "-j", "ACCEPT"])
        assert rule_spec(rule) == '-m comment --comment "" -j ACCEPT'
        return
    assert canon(given) == printed


def test_spellings_of_one_rule_compare_equal_so_delete_by_spec_finds_it() -> None:
    assert parse_rule("-p tcp --dport 80 -s 10.0.0.7/24") == parse_rule(
        "--source 10.0.0.0/255.255.255.0 --protocol 6 -m tcp --destination-port 80")


def test_bare_address_is_a_host_network_compared_as_ints() -> None:
    assert parse_network("10.0.0.1") == Network(0x0A000001, 0xFFFFFFFF)
    assert parse_network("10.0.0.1/8") == Network(0x0A000000, 0xFF000000)


def test_log_prefix_is_cut_to_29_characters_like_iptables() -> None:
    assert canon("-j LOG --log-prefix " + "x" * 40) == "-j LOG --log-prefix " + "x" * 29


def test_goto_to_a_builtin_verdict_name_is_still_a_chain_jump() -> None:
    assert parse_rule("-g ACCEPT").target == Jump("ACCEPT", goto=True)
    assert parse_rule("-j RETURN").target == Standard(Verdict.RETURN)


def test_mark_target_folds_to_xmark_semantics() -> None:
    target = parse_rule("-j MARK --and-mark 0xf0").target
    assert isinstance(target, MarkTarget)
    assert target.apply(0x1FF) == 0xF0


def test_second_tcp_option_goes_to_the_same_implicit_match() -> None:
    rule = parse_rule("-p tcp --dport 5 --sport 6")
    assert rule.matches == (PortMatch("tcp", PortRange(6, 6), False, PortRange(5, 5), False),)


def test_state_match_keeps_its_module_name() -> None:
    rule = parse_rule("-m state --state RELATED")
    assert rule_spec(rule) == "-m state --state RELATED"
    assert rule.matches[0].states == CtState.RELATED  # type: ignore[union-attr]


@pytest.mark.parametrize("text,expected", [
    ("hello world", '"hello world"'), ("simple", "simple"), ('with "quote"', '"with \\"quote\\""'),
    ("back\\slash", '"back\\\\slash"'), ("", '""'), ("a'b", '"a\\\'b"'),
    ("10.0.0.1:80", '"10.0.0.1:80"'), ("tab\tx", '"tab\tx"'),
])
def test_strings_are_quoted_like_xtables_save_string(text: str, expected: str) -> None:
    assert save_string(text) == expected


@pytest.mark.parametrize("text", ["hello world", "simple", 'with "quote"', "back\\slash", "",
                                  "a'b", "10.0.0.1:80", "tab\tx", "x\\\"y"])
def test_quoted_comment_round_trips_through_a_restore_line(text: str) -> None:
    rule = parse_rule(["-m", "comment", "--comment", text, "-j", "ACCEPT"])
    line = append_line("INPUT", rule)
    again = parse_command(split_restore_line(line), restore=True)
    assert again.rule == rule
    assert again.rule is not None and again.rule.matches == (CommentMatch(text),)


@pytest.mark.parametrize("line,words", [
    ('-A X --comment "a b"c', ["-A", "X", "--comment", "a b", "c"]),
    ('-A X --comment ab\\"c d"', ["-A", "X", "--comment", "ab\\c d"]),
    ('-A X --comment "a\\"b\\\\c\\x"', ["-A", "X", "--comment", 'a"b\\cx']),
    ('-A X --comment "open\n', ["-A", "X", "--comment", "open\n"]),
    ("  -A   X\t-j ACCEPT\n", ["-A", "X", "-j", "ACCEPT"]),
])
def test_restore_lines_split_like_iptables_restore(line: str, words: list[str]) -> None:
    assert split_restore_line(line) == words


def test_rule_argv_is_unquoted_for_exec() -> None:
    rule = parse_rule(["-m", "comment", "--comment", "x y", "-j", "LOG", "--log-prefix", "p: "])
    assert rule_argv("INPUT", rule, "filter") == [
        "-t", "filter", "-A", "INPUT", "-m", "comment", "--comment", "x y", "-j", "LOG",
        "--log-prefix", "p: "]


@pytest.mark.parametrize("argv,verb,chain,num", [
    ("-I INPUT 3 -j ACCEPT", Verb.INSERT, "INPUT", 3),
    ("-D INPUT 2", Verb.DELETE, "INPUT", 2),
    ("-S INPUT 1", Verb.LIST_RULES, "INPUT", 1),
    ("-L -n -v -x --line-numbers", Verb.LIST, None, None),
    ("-X", Verb.DELETE_CHAIN, None, None),
    ("-F FORWARD", Verb.FLUSH, "FORWARD", None),
])
def test_command_verbs_and_positionals(argv: str, verb: Verb, chain: str | None,
                                       num: int | None) -> None:
    cmd = parse_command(argv.split())
    assert (cmd.verb, cmd.chain, cmd.rulenum) == (verb, chain, num)


@pytest.mark.parametrize("args,message", [
    ("-A INPUT -p tcp --syn -j ACCEPT", 'unknown option "--syn"'),
    ("-A INPUT -m limit --limit 5/s -j ACCEPT", "Couldn't load match `limit'"),
    ("-A INPUT -j LOG --log-tcp-options", 'unknown option "--log-tcp-options"'),
    ("-A INPUT -p tcp --dport http -j ACCEPT", "invalid port/service `http' specified"),
    ("-A INPUT -s localhost -j ACCEPT", "host/network `localhost' not found"),
    ("-A INPUT -p icmp --icmp-type bogus -j ACCEPT", "Invalid ICMP type `bogus'"),
    ("-A INPUT ! ! -s 1.1.1.1 -j ACCEPT", "multiple `!' flags not allowed"),
    ("-A INPUT -A FORWARD", "Cannot use more than one command"),
    ("-L INPUT -j ACCEPT", "Illegal option with -L"),
    ("-I INPUT 0 -j ACCEPT", "Invalid rule number `0'"),
    ("-j ACCEPT", "no command specified"),
    ("-A INPUT stray", "Bad argument `stray'"),
    ("-N a_chain_name_longer_than_twenty8", "too long (must be under 29 chars)"),
    ("-N has\tspace", "Invalid chain name"),
])
def test_unknown_or_bad_input_is_an_error_naming_it(args: str, message: str) -> None:
    argv = args.split(" ") if "\t" in args else args.split()
    with pytest.raises(InvalidConfig) as info:
        parse_command(argv)
    assert message in str(info.value)
    assert info.value.errno == 22  # EINVAL: iptables-restore fails the line the same way


def test_restore_refuses_the_table_option() -> None:
    with pytest.raises(InvalidConfig, match="-t option cannot be used"):
        parse_command(["-t", "nat", "-A", "X"], restore=True)
