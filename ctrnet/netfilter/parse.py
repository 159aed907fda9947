"""From iptables argv to a `Command` (verb + table + chain + `Rule`), as iptables parses it.

Options are dispatched like xtables does: rule options first, then the target's options, then
the loaded matches (most recent first); a tcp/udp/icmp option that no loaded match claims loads
the protocol's implicit match at that point, which is why iptables-save prints `-m tcp` there.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from ctrnet.netfilter.extensions import MATCHES, TARGETS, MatchExt, TargetExt
from ctrnet.netfilter.model import (
    MAX_CHAIN_NAME,
    MAX_IFNAME,
    Iface,
    Jump,
    Rule,
    Standard,
    Target,
    Verdict,
)
from ctrnet.netfilter.values import param_problem, parse_network, parse_proto


class Verb(enum.Enum):
    APPEND = "-A"
    INSERT = "-I"
    DELETE = "-D"
    CHECK = "-C"
    REPLACE = "-R"
    NEW_CHAIN = "-N"
    DELETE_CHAIN = "-X"
    FLUSH = "-F"
    POLICY = "-P"
    ZERO = "-Z"
    LIST = "-L"
    LIST_RULES = "-S"
    RENAME = "-E"


_VERBS = {
    "-A": Verb.APPEND, "--append": Verb.APPEND, "-I": Verb.INSERT, "--insert": Verb.INSERT,
    "-D": Verb.DELETE, "--delete": Verb.DELETE, "-C": Verb.CHECK, "--check": Verb.CHECK,
    "-R": Verb.REPLACE, "--replace": Verb.REPLACE, "-N": Verb.NEW_CHAIN,
    "--new-chain": Verb.NEW_CHAIN, "-X": Verb.DELETE_CHAIN, "--delete-chain": Verb.DELETE_CHAIN,
    "-F": Verb.FLUSH, "--flush": Verb.FLUSH, "-P": Verb.POLICY, "--policy": Verb.POLICY,
    "-Z": Verb.ZERO, "--zero": Verb.ZERO, "-L": Verb.LIST, "--list": Verb.LIST,
    "-S": Verb.LIST_RULES, "--list-rules": Verb.LIST_RULES, "-E": Verb.RENAME,
    "--rename-chain": Verb.RENAME,
}
_CHAIN_REQUIRED = {Verb.APPEND, Verb.INSERT, Verb.DELETE, Verb.CHECK, Verb.REPLACE,
                   Verb.NEW_CHAIN, Verb.POLICY, Verb.RENAME}
_RULE_VERBS = {Verb.APPEND, Verb.INSERT, Verb.DELETE, Verb.CHECK, Verb.REPLACE}
_ALIASES = {
    "--source": "-s", "--src": "-s", "--destination": "-d", "--dst": "-d",
    "--in-interface": "-i", "--out-interface": "-o", "--protocol": "-p", "--jump": "-j",
    "--goto": "-g", "--match": "-m", "--table": "-t", "--verbose": "-v", "--numeric": "-n",
    "--exact": "-x", "--set-counters": "-c",
}
#: Chains into which a packet has no input (-i) or no output (-o) device yet.
_NO_IN = {"OUTPUT", "POSTROUTING"}
_NO_OUT = {"PREROUTING", "INPUT"}
#: Names a user chain may not take (built-in targets and every target iptables can load).
RESERVED_NAMES = frozenset({"ACCEPT", "DROP", "RETURN", "QUEUE", "NFQUEUE", *TARGETS})


@dataclass(frozen=True, slots=True)
class ListOptions:
    verbose: bool = False
    numeric: bool = False
    exact: bool = False
    line_numbers: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """One iptables invocation; `rule` for rule verbs, `rulenum` 1-based where one was given."""

    verb: Verb
    table: str = "filter"
    chain: str | None = None
    rule: Rule | None = None
    rulenum: int | None = None
    policy: str | None = None
    new_name: str | None = None
    counters: tuple[int, int] | None = None
    listing: ListOptions = ListOptions()


def check_chain_name(name: str) -> None:
    """iptables' checks on a new user chain name (xshared.c)."""
    if len(name) > MAX_CHAIN_NAME:
        raise param_problem(f"chain name `{name}' too long (must be under "
                            f"{MAX_CHAIN_NAME + 1} chars)")
    if name.startswith("-") or name.startswith("!"):
        raise param_problem("chain name not allowed to start with `-'")
    if name in RESERVED_NAMES:
        raise param_problem("chain name may not clash with target name")
    if not name or any(ch.isspace() for ch in name):
        raise param_problem(f"Invalid chain name `{name}'")


def _iface(name: str) -> Iface | None:
    if len(name) > MAX_IFNAME:
        raise param_problem(f"interface name `{name}' must be shorter than IFNAMSIZ "
                            f"({MAX_IFNAME})")
    return None if name == "+" else Iface(name)


class _RuleBuilder:
    def __init__(self, chain: str | None) -> None:
        self.chain = chain
        self.fields: dict[str, tuple[str, bool]] = {}
        self.matches: list[MatchExt] = []
        self.target: TargetExt | None = None
        self.target_name: str | None = None
        self.goto = False

    def rule_option(self, opt: str, value: str, invert: bool) -> None:
        if opt in ("-j", "-g"):
            if self.target_name is not None:
                raise param_problem(f"multiple {opt} flags not allowed")
            self.target_name, self.goto = value, opt == "-g"
            if opt == "-j" and value in TARGETS:
                self.target = TARGETS[value]()
            return
        if opt in self.fields:
            raise param_problem(f"multiple {opt} flags not allowed")
        if opt == "-o" and self.chain in _NO_OUT:
            raise param_problem(f"Can't use -o with {self.chain}\n")
        if opt == "-i" and self.chain in _NO_IN:
            raise param_problem(f"Can't use -i with {self.chain}\n")
        self.fields[opt] = (value, invert)

    def load_match(self, name: str) -> None:
        if name not in MATCHES:
            raise param_problem(f"Couldn't load match `{name}':No such file or directory\n")
        self.matches.append(MATCHES[name]())

    def extension_option(self, opt: str, value_of: Callable[[bool], str | None],
                         invert: bool) -> None:
        owners: list[MatchExt | TargetExt] = []
        if self.target is not None:
            owners.append(self.target)
        owners.extend(reversed(self.matches))
        for ext in owners:
            canonical = ext.canonical(opt)
            if canonical is not None:
                ext.take(canonical, value_of(ext.options[canonical]), invert)
                return
        proto_text = self.fields.get("-p", ("", False))[0].lower()
        implicit = {"6": "tcp", "17": "udp", "1": "icmp"}.get(proto_text, proto_text)
        if implicit in ("tcp", "udp", "icmp"):
            ext = MATCHES[implicit]()
            canonical = ext.canonical(opt)
            if canonical is not None:
                self.matches.append(ext)
                ext.take(canonical, value_of(ext.options[canonical]), invert)
                return
        raise param_problem(f'unknown option "{opt}"')

    def build(self) -> Rule:
        f = self.fields
        proto, proto_inv = (parse_proto(f["-p"][0]), f["-p"][1]) if "-p" in f else (0, False)
        src = parse_network(f["-s"][0]) if "-s" in f else None
        dst = parse_network(f["-d"][0]) if "-d" in f else None
        in_iface = _iface(f["-i"][0]) if "-i" in f else None
        out_iface = _iface(f["-o"][0]) if "-o" in f else None
        if src is not None and src.mask == 0 and not f["-s"][1]:
            src = None  # 0.0.0.0/0 is no test at all; iptables-save omits it
        if dst is not None and dst.mask == 0 and not f["-d"][1]:
            dst = None
        matches = tuple(m.finish(proto, proto_inv) for m in self.matches)
        target: Target | None = None
        if self.target is not None:
            target = self.target.finish(proto, proto_inv)
        elif self.target_name is not None:
            name = self.target_name
            if name in ("ACCEPT", "DROP", "RETURN") and not self.goto:
                target = Standard(Verdict(name))
            else:
                # A user chain: whether it exists is the ruleset's question (EINVAL/ENOENT).
                target = Jump(name, self.goto)
        return Rule(src, src is not None and f["-s"][1], dst, dst is not None and f["-d"][1],
                    in_iface, in_iface is not None and f["-i"][1], out_iface,
                    out_iface is not None and f["-o"][1], proto, proto_inv and proto != 0,
                    matches, target)


def _int_arg(text: str, what: str) -> int:
    if not text.isdigit():
        raise param_problem(f"{what} `{text}' not numeric")
    return int(text)


def parse_command(argv: list[str] | tuple[str, ...], *, restore: bool = False) -> Command:
    """Parse `iptables ARGS` (without the program name). `restore`: a line of iptables-restore."""
    args = list(argv)
    verb: Verb | None = None
    table = "filter"
    positional: list[str] = []
    listing: dict[str, bool] = {}
    counters: tuple[int, int] | None = None
    builder = _RuleBuilder(None)
    invert = False
    i = 0

    def next_arg(opt: str) -> str:
        nonlocal i
        if i >= len(args):
            raise param_problem(f"option \"{opt}\" requires an argument")
        i += 1
        return args[i - 1]

    while i < len(args):
        word = args[i]
        i += 1
        if word == "!":
            if invert:
                raise param_problem("multiple `!' flags not allowed")
            invert = True
            continue
        opt = _ALIASES.get(word, word)
        if opt in _VERBS:
            if verb is not None:
                raise param_problem("Cannot use more than one command")
            verb = _VERBS[opt]
            # Positional arguments (chain, rule number, policy, new name) follow the verb;
            # where the chain is required getopt takes the next word whatever it looks like.
            if verb in _CHAIN_REQUIRED and i < len(args):
                positional.append(args[i])
                i += 1
            while i < len(args) and not args[i].startswith("-") and args[i] != "!":
                positional.append(args[i])
                i += 1
            builder.chain = positional[0] if positional else None
        elif opt == "-t":
            if restore:
                raise param_problem("The -t option cannot be used in iptables-restore.\n")
            table = next_arg(opt)
        elif opt in ("-v", "-n", "-x", "--line-numbers"):
            listing[opt] = True
        elif opt == "-c":
            pkts, byts = next_arg(opt), next_arg(opt)
            counters = (_int_arg(pkts, "-c packet counter"), _int_arg(byts, "-c byte counter"))
        elif opt in ("-s", "-d", "-i", "-o", "-p", "-j", "-g"):
            builder.rule_option(opt, next_arg(opt), invert)
        elif opt == "-m":
            builder.load_match(next_arg(opt))
        elif opt.startswith("-") and len(opt) > 1:

            def value_of(takes_arg: bool, opt: str = opt) -> str | None:
                return next_arg(opt) if takes_arg else None

            builder.extension_option(opt, value_of, invert)
        else:
            raise param_problem(f"Bad argument `{word}'")
        if opt != "!":
            invert = False
    if verb is None:
        raise param_problem("no command specified")
    return _finish(verb, table, positional, builder, listing, counters)


def _finish(verb: Verb, table: str, positional: list[str], builder: _RuleBuilder,
            listing: dict[str, bool], counters: tuple[int, int] | None) -> Command:
    chain = positional[0] if positional else None
    rest = positional[1:]
    rulenum: int | None = None
    rule: Rule | None = None
    policy = new_name = None
    if verb in _RULE_VERBS or verb in (Verb.NEW_CHAIN, Verb.POLICY, Verb.RENAME):
        if chain is None:
            raise param_problem(f"{verb.value} requires a chain name")
    if verb in (Verb.INSERT, Verb.DELETE, Verb.REPLACE, Verb.ZERO, Verb.LIST_RULES,
                Verb.LIST) and rest:
        word = rest.pop(0)
        # parse_rulenumber() of iptables 1.8.9: one message for garbage and for 0.
        if not word.isdigit() or int(word) < 1:
            raise param_problem(f"Invalid rule number `{word}'")
        rulenum = int(word)
    if verb == Verb.REPLACE and rulenum is None:
        raise param_problem("-R requires a rule number")
    if verb == Verb.POLICY:
        if not rest:
            raise param_problem("-P requires a chain and a policy")
        policy = rest.pop(0)
    if verb == Verb.RENAME:
        if not rest:
            raise param_problem("-E requires old-chain-name and new-chain-name")
        new_name = rest.pop(0)
        check_chain_name(new_name)
    if verb == Verb.NEW_CHAIN:
        assert chain is not None
        check_chain_name(chain)
    if rest:
        raise param_problem(f"Bad argument `{rest[0]}'")
    has_rule_options = bool(builder.fields or builder.matches or builder.target_name)
    if verb in _RULE_VERBS and not (verb == Verb.DELETE and rulenum is not None):
        rule = builder.build()
    elif has_rule_options:
        raise param_problem(f"Illegal option with {verb.value}")
    opts = ListOptions(listing.get("-v", False), listing.get("-n", False),
                       listing.get("-x", False), listing.get("--line-numbers", False))
    return Command(verb, table, chain, rule, rulenum, policy, new_name, counters, opts)


def parse_rule(args: list[str] | tuple[str, ...] | str, chain: str | None = None) -> Rule:
    """Just the rule part: `parse_rule("-p tcp --dport 80 -j ACCEPT")`."""
    argv = args.split() if isinstance(args, str) else list(args)
    cmd = parse_command(["-A", chain or "_"] + argv)
    assert cmd.rule is not None
    return cmd.rule

