"""A Ruleset: the iptables state of one network namespace, and the iptables verbs on it.

Tables come into being on their first write, as with iptables-nft (which is why a fresh
namespace saves as nothing). Every verb checks what iptables or the kernel checks and raises
the typed error with the errno the real command gets; a failed verb changes nothing.
iptables-restore text is applied one COMMIT block at a time, each block all-or-nothing —
the nf_tables batch semantics this machine's iptables-restore has.
"""

from __future__ import annotations

import errno
import re
import shlex
from collections.abc import Callable
from dataclasses import replace

from ctrnet.errors import CtrnetError, InvalidArgument, InvalidConfig, from_errno
from ctrnet.netfilter import listing
from ctrnet.netfilter.listing import save_table
from ctrnet.netfilter.model import (
    BUILTIN_CHAINS,
    NAT_HOOKS,
    REJECT_HOOKS,
    TABLE_ORDER,
    Counters,
    Jump,
    Policy,
    Reject,
    Rule,
)
from ctrnet.netfilter.parse import Command, Verb, check_chain_name, parse_command
from ctrnet.netfilter.tables import Chain, Table
from ctrnet.netfilter.values import IPPROTO_TCP, split_restore_line


def _kernel_refuses(op: str, chain: str) -> InvalidArgument:
    return InvalidArgument(f" {op} failed (Invalid argument): rule in chain {chain}")


def _no_chain() -> CtrnetError:
    return from_errno(errno.ENOENT, "No chain/target/match by that name.")


_OP_NAMES = {Verb.APPEND: "RULE_APPEND", Verb.INSERT: "RULE_INSERT",
             Verb.REPLACE: "RULE_REPLACE"}
_COUNTERS_RE = re.compile(r"^\[(\d+):(\d+)\]\s*")


class Ruleset:
    """The iptables tables of one namespace. `counts_policy`: whether a built-in chain's
    policy counters grow when the policy decides — iptables-nft (this machine) leaves them at
    0, legacy x_tables counts; the default follows the kernel the tests run against."""

    def __init__(self, *, counts_policy: bool = False) -> None:
        self.tables: dict[str, Table] = {}
        self.counts_policy = counts_policy
        #: Bumped on every change; evaluators cache compiled chains against it.
        self.generation = 0
        #: evaluate.py's compiled chains per table: (generation, chains).
        self.compiled: dict[str, tuple[int, object]] = {}

    # -- access ------------------------------------------------------------------------------
    def table(self, name: str) -> Table:
        """The table, or an unwritten fresh one (reads do not create tables)."""
        if name not in BUILTIN_CHAINS:
            raise from_errno(errno.ENOENT, f"table '{name}' does not exist")
        return self.tables.get(name) or Table.fresh(name)

    def chain(self, table: str, chain: str) -> Chain:
        found = self.table(table).chains.get(chain)
        if found is None:
            raise _no_chain()
        return found

    def copy(self) -> Ruleset:
        dup = Ruleset(counts_policy=self.counts_policy)
        dup.tables = {name: table.clone() for name, table in self.tables.items()}
        dup.generation = self.generation
        return dup

    # -- the iptables command line -----------------------------------------------------------
    def run(self, argv: list[str] | tuple[str, ...] | str) -> str:
        """Run `iptables ARGV` (without the program name); returns what it prints.

        A string is split like a shell would (`-m comment --comment "x y"`)."""
        args = shlex.split(argv) if isinstance(argv, str) else list(argv)
        return self.execute(parse_command(args))

    def execute(self, cmd: Command) -> str:
        if cmd.verb in (Verb.LIST, Verb.LIST_RULES):
            table = self.table(cmd.table)
            if cmd.chain is not None and cmd.chain not in table.chains:
                raise _no_chain()
            if cmd.verb == Verb.LIST:
                return listing.list_table(table, cmd.chain, cmd.listing)
            return listing.list_rules(table, cmd.chain, cmd.rulenum, cmd.listing.verbose)
        # Work on a copy and swap it in only on success: a failed verb changes nothing
        # (an nf_tables batch is all-or-nothing), not even whether the table exists.
        work = self.table(cmd.table).clone()
        self._apply(work, cmd, counters=cmd.counters)
        if cmd.verb != Verb.CHECK:
            self.tables[cmd.table] = work
            self.generation += 1
        return ""

    def _apply(self, table: Table, cmd: Command, counters: tuple[int, int] | None) -> None:
        verb = cmd.verb
        if verb == Verb.NEW_CHAIN:
            assert cmd.chain is not None
            if cmd.chain in table.chains:
                raise from_errno(errno.EEXIST, "Chain already exists.")
            table.chains[cmd.chain] = Chain(cmd.chain)
        elif verb == Verb.DELETE_CHAIN:
            # Without a name, iptables-nft 1.8.9 deletes every user chain and every empty
            # built-in one whose policy is ACCEPT (which then reads back as fresh, its policy
            # counters gone); a built-in chain with rules or a DROP policy stays.
            names = [cmd.chain] if cmd.chain else [
                c.name for c in table.chains.values()
                if not c.builtin or (not c.rules and c.policy is Policy.ACCEPT)]
            for name in names:
                self._delete_chain(table, name)
        elif verb == Verb.FLUSH:
            for chain in self._chains(table, cmd.chain):
                chain.rules.clear()
                chain.counters.clear()
        elif verb == Verb.ZERO:
            for chain in self._chains(table, cmd.chain):
                if cmd.rulenum is not None:
                    # iptables-nft 1.8.9 ignores a rule number past the end (exit 0).
                    if cmd.rulenum <= len(chain.rules):
                        chain.counters[cmd.rulenum - 1] = Counters()
                    continue
                chain.counters = [Counters() for _ in chain.rules]
                chain.policy_counters = Counters()
        elif verb == Verb.POLICY:
            self._set_policy(table, cmd.chain or "", cmd.policy or "", counters)
        elif verb == Verb.RENAME:
            self._rename(table, cmd.chain or "", cmd.new_name or "")
        else:
            self._rule_verb(table, cmd, counters)

    def _chains(self, table: Table, name: str | None) -> list[Chain]:
        if name is None:
            return list(table.chains.values())
        if name not in table.chains:
            raise _no_chain()
        return [table.chains[name]]

    def _delete_chain(self, table: Table, name: str) -> None:
        chain = table.chains.get(name)
        if chain is None:
            raise _no_chain()
        # nf_tables refuses to delete a chain that holds rules or is jumped to (chain->use):
        # EBUSY, where legacy x_tables said ENOTEMPTY/EMLINK.
        if chain.rules or table.references(name):
            raise from_errno(errno.EBUSY,
                             f" CHAIN_DEL failed (Device or resource busy): chain {name}")
        if chain.builtin:
            # iptables-nft deletes an empty base chain; it then reads back as a fresh one.
            table.chains[name] = Chain(name, Policy.ACCEPT)
            return
        del table.chains[name]

    def _set_policy(self, table: Table, name: str, policy: str,
                    counters: tuple[int, int] | None) -> None:
        chain = table.chains.get(name)
        if chain is None or not chain.builtin:
            raise from_errno(errno.ENOENT, "Bad built-in chain name.")
        if policy not in ("ACCEPT", "DROP"):
            raise from_errno(errno.EINVAL, "Bad policy name.")
        chain.policy = Policy(policy)
        chain.counted = True
        # iptables-nft sends the policy with counters: the given ones (-c, restore -c), else
        # zeros, so setting a policy restarts its count.
        chain.policy_counters = Counters(*counters) if counters is not None else Counters()

    def _rename(self, table: Table, old: str, new: str) -> None:
        chain = table.chains.get(old)
        if chain is None:
            raise _no_chain()
        if new in table.chains:
            raise from_errno(errno.EEXIST, "File exists.")
        if chain.builtin:
            raise from_errno(errno.EINVAL, "Invalid argument.")
        del table.chains[old]
        chain.name = new
        table.chains[new] = chain
        for c in table.chains.values():
            c.rules = [_retarget(r, old, new) for r in c.rules]

    def _rule_verb(self, table: Table, cmd: Command, counters: tuple[int, int] | None) -> None:
        assert cmd.chain is not None
        chain = table.chains.get(cmd.chain)
        if chain is None:
            raise _no_chain()
        rule = cmd.rule
        if rule is not None and isinstance(rule.target, Jump):
            target = table.chains.get(rule.target.chain)
            if target is None or target.builtin:
                raise InvalidConfig(f"Chain '{rule.target.chain}' does not exist")
        verb = cmd.verb
        if verb == Verb.DELETE:
            if cmd.rulenum is not None:
                if cmd.rulenum > len(chain.rules):
                    raise from_errno(errno.E2BIG, "Index of deletion too big.")
                index = cmd.rulenum - 1
            else:
                index = self._find(chain, rule)
            del chain.rules[index]
            del chain.counters[index]
            return
        if verb == Verb.CHECK:
            self._find(chain, rule)
            return
        assert rule is not None
        self._kernel_checks(table, chain, rule, _OP_NAMES[verb])
        entry = Counters(*counters) if counters is not None else Counters()
        if verb == Verb.APPEND:
            chain.rules.append(rule)
            chain.counters.append(entry)
        elif verb == Verb.INSERT:
            index = (cmd.rulenum or 1) - 1
            if index > len(chain.rules):
                raise from_errno(errno.E2BIG, "Index of insertion too big.")
            chain.rules.insert(index, rule)
            chain.counters.insert(index, entry)
        else:  # REPLACE
            index = (cmd.rulenum or 1) - 1
            if index >= len(chain.rules):
                raise from_errno(errno.E2BIG, "Index of replacement too big.")
            chain.rules[index] = rule
            chain.counters[index] = entry

    @staticmethod
    def _find(chain: Chain, rule: Rule | None) -> int:
        try:
            return chain.rules.index(rule)  # type: ignore[arg-type]
        except ValueError:
            raise from_errno(errno.ENOENT, "Bad rule (does a matching rule exist in that "
                                           "chain?).") from None

    def _kernel_checks(self, table: Table, chain: Chain, rule: Rule, op: str) -> None:
        """What the kernel's checkentry hooks refuse with EINVAL once iptables sends the rule."""
        if (rule.src is not None and rule.src.mask == 0) or (
                rule.dst is not None and rule.dst.mask == 0):
            raise _kernel_refuses(op, chain.name)  # `! -s 0.0.0.0/0` can never match
        hooks = {chain.name} if chain.builtin else table.hooks_reaching(chain.name)
        rules = [rule]
        if isinstance(rule.target, Jump):
            # A jump makes the callee's rules run from this chain's hooks too.
            callee_hooks = hooks
            reach = _reachable(table, rule.target.chain)
            rules = [rule] + [r for name in reach for r in table.chains[name].rules]
            if not _targets_allowed(table.name, rules, callee_hooks):
                raise _kernel_refuses(op, chain.name)
            return
        if not _targets_allowed(table.name, rules, hooks):
            raise _kernel_refuses(op, chain.name)

    # -- iptables-save / iptables-restore ----------------------------------------------------
    def save(self, *, counters: bool = False, tables: tuple[str, ...] | None = None,
             banner: tuple[str, str] | None = None) -> str:
        out = []
        for name in TABLE_ORDER:
            if name in self.tables and (tables is None or name in tables):
                out.append(save_table(self.tables[name], counters=counters, banner=banner))
        return "".join(out)

    def restore(self, text: str, *, noflush: bool = True, counters: bool = False,
                options: Callable[[list[str]], list[str]] | None = None) -> None:
        """Apply iptables-restore text. Each `*table … COMMIT` block is atomic; a failing
        block raises (message "line N failed: …") leaving that block's table as it was,
        while blocks committed before it stay, as with iptables-nft-restore. `options`
        turns a rule line's words into the one-word-per-option form the parser reads (the
        command line's getopt_long, which iptables-restore runs on every rule line too)."""
        work: Table | None = None
        for lineno, raw in enumerate(text.splitlines(keepends=True), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                if line.startswith("*"):
                    name = line[1:].strip()
                    if name not in BUILTIN_CHAINS:
                        raise InvalidConfig(f"iptables-restore: line {lineno} table name "
                                            f"'{name}' invalid")
                    work = self.table(name).clone() if noflush else Table.fresh(name)
                elif work is None:
                    raise InvalidConfig(f"iptables-restore: line {lineno} failed")
                elif line == "COMMIT":
                    self.tables[work.name] = work
                    self.generation += 1
                    work = None
                elif line.startswith(":"):
                    self._restore_chain_line(work, line, counters)
                else:
                    self._restore_rule_line(work, raw, counters, options)
            except CtrnetError as err:
                if str(err).startswith("iptables-restore"):
                    raise
                raise type(err)(f"line {lineno} failed: {err.args[0]}", err.errno) from err
        if work is not None:
            raise InvalidConfig(f"iptables-restore: COMMIT expected at line {lineno + 1}")

    def _restore_chain_line(self, table: Table, line: str, counters: bool) -> None:
        words = line[1:].split()
        if len(words) < 2:
            raise InvalidConfig(f"Bad argument `{line}'")
        name, policy = words[0], words[1]
        match = _COUNTERS_RE.match(words[2]) if len(words) > 2 else None
        chain = table.chains.get(name)
        if chain is not None and chain.builtin:
            if policy != "-":
                pc = (int(match.group(1)), int(match.group(2))) if match and counters else None
                self._set_policy(table, name, policy, pc)
            return
        if chain is not None:
            # An existing user chain named again is flushed (iptables-restore --noflush).
            chain.rules.clear()
            chain.counters.clear()
            return
        check_chain_name(name)
        table.chains[name] = Chain(name)

    def _restore_rule_line(self, table: Table, raw: str, counters: bool,
                           options: Callable[[list[str]], list[str]] | None) -> None:
        line = raw.lstrip()
        rule_counters: tuple[int, int] | None = None
        if line.startswith("["):
            match = _COUNTERS_RE.match(line)
            if match is None:
                raise InvalidConfig("Bad counter line")
            line = line[match.end():]
            if counters:
                rule_counters = (int(match.group(1)), int(match.group(2)))
        words = split_restore_line(line)
        cmd = parse_command(options(words) if options else words, restore=True)
        if cmd.verb in (Verb.LIST, Verb.LIST_RULES):
            raise InvalidConfig(f"Illegal option `{cmd.verb.value}' in iptables-restore")
        cmd_counters = cmd.counters if cmd.counters is not None else rule_counters
        self._apply(table, _with_table(cmd, table.name), counters=cmd_counters)


def _with_table(cmd: Command, table: str) -> Command:
    return replace(cmd, table=table)


def _retarget(rule: Rule, old: str, new: str) -> Rule:
    if isinstance(rule.target, Jump) and rule.target.chain == old:
        return replace(rule, target=Jump(new, rule.target.goto))
    return rule


def _reachable(table: Table, start: str) -> list[str]:
    seen, todo = [start], [start]
    while todo:
        for r in table.chains[todo.pop()].rules:
            if isinstance(r.target, Jump) and r.target.chain not in seen:
                seen.append(r.target.chain)
                todo.append(r.target.chain)
    return seen


def _targets_allowed(table: str, rules: list[Rule], hooks: set[str]) -> bool:
    """The kernel's xt_check_target: table and hook masks of NAT and REJECT. (TRACE has no
    such limit here: iptables-nft sends it as `meta nftrace set 1`, valid in any table.)"""
    for rule in rules:
        target = rule.target
        allowed = NAT_HOOKS.get(type(target))
        if allowed is not None and (table != "nat" or not hooks <= allowed):
            return False
        if isinstance(target, Reject):
            if not hooks <= REJECT_HOOKS:
                return False
            # ipt_REJECT checkentry: tcp-reset only for `-p tcp` (not inverted).
            if target.with_ == "tcp-reset" and (rule.proto != IPPROTO_TCP or rule.proto_invert):
                return False
    return True
