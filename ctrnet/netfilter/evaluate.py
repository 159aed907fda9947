"""Walking a packet through a table's chain the way ipt_do_table does.

Rules are tried in order; a matching rule's counters grow; ACCEPT/DROP/REJECT and the NAT
targets end the walk; LOG, MARK, TRACE and rules without target go on to the next rule;
`-j CHAIN` pushes a return point, `-g CHAIN` does not (so a RETURN from a goto'd chain goes
back to the caller of the chain that did the goto); RETURN or falling off a user chain pops;
RETURN in, or falling off, a built-in chain applies its policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctrnet.errors import InvalidConfig
from ctrnet.netfilter.match import (
    ChainIndex,
    Packet,
    Pred,
    Scan,
    block_scan,
    build_index,
    rule_pred,
)
from ctrnet.netfilter.model import (
    Counters,
    Dnat,
    Jump,
    Log,
    MarkTarget,
    Masquerade,
    Reject,
    Rule,
    Snat,
    Standard,
    Trace,
    Verdict,
)
from ctrnet.netfilter.ruleset import Ruleset
from ctrnet.netfilter.tables import Chain
from ctrnet.netfilter.values import ip_str, proto_str

__all__ = ["Packet", "Outcome", "LogEntry", "RuleRef", "evaluate"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One kernel log line a LOG rule (or TRACE) wrote: syslog level and text.

    The text follows nf_log_ip's layout for the fields a Packet has (IN= OUT= SRC= DST= LEN=
    PROTO= SPT= DPT= / TYPE= CODE=, MARK=); header fields it lacks (TTL, ID…) are left out.
    """

    level: int
    text: str


@dataclass(frozen=True, slots=True)
class RuleRef:
    """The rule that decided: its chain, 1-based position and value."""

    chain: str
    num: int
    rule: Rule


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of one traversal.

    `verdict` is ACCEPT or DROP (REJECT drops, with `reject` saying what is sent back; a NAT
    target accepts, with `nat` giving the target to apply); RETURN only when the walk started in
    a user chain and fell off it. `rule` is None when a policy decided (`policy_chain`).
    """

    verdict: Verdict
    rule: RuleRef | None
    policy_chain: str | None
    mark: int
    nat: Snat | Dnat | Masquerade | None = None
    reject: Reject | None = None
    logs: tuple[LogEntry, ...] = ()
    traced: bool = False


# Action codes of compiled rules, checked in this order by the walk loop.
_CONTINUE, _VERDICT, _JUMP, _GOTO, _RETURN, _LOG, _MARK, _TRACE, _REJECT, _NAT = range(10)

# The walk takes candidates from a chain's bitset a word at a time: bit operations on a
# 1,000-bit int allocate a new 1,000-bit int each, three of them per rule tested.
_W = 30
_WORD = (1 << _W) - 1
#: From this many candidates in a word on, they are tested by the word's block function
#: (`match.block_scan`) in one call; fewer are cheaper one predicate call each.
_BLOCK_MIN = 4
#: Outcomes kept per chain (see `_Compiled.outcome`).
_OUTCOMES_MAX = 4096


class _Compiled:
    __slots__ = ("name", "builtin", "policy", "policy_counters", "counted", "rules", "preds",
                 "actions",
                 "counters", "index", "all_bits", "refs", "outcomes", "blocks")

    def __init__(self, chain: Chain) -> None:
        self.name = chain.name
        self.builtin = chain.builtin
        self.policy = Verdict(chain.policy.value) if chain.policy else None
        self.policy_counters = chain.policy_counters
        self.counted = chain.counted
        self.rules = list(chain.rules)
        self.preds: list[Pred | None] = [rule_pred(r) for r in chain.rules]
        self.actions = [_action(r) for r in chain.rules]
        self.counters: list[Counters] = chain.counters
        self.index: ChainIndex = build_index(self.rules)
        self.all_bits = (1 << len(self.rules)) - 1
        self.refs = [RuleRef(self.name, n + 1, rule) for n, rule in enumerate(self.rules)]
        # Outcomes without logs or trace, by (rule index or -1 for the policy, mark): they are
        # immutable, so each is made once instead of once per packet.
        self.outcomes: dict[tuple[int, int], Outcome] = {}
        self.blocks: dict[int, Scan] = {}  # made on first use, by first rule index

    def block(self, base: int) -> Scan:
        """The scan function of rules base..base+_W-1."""
        scan = self.blocks.get(base)
        if scan is None:
            scan = self.blocks[base] = block_scan(self.rules[base:base + _W])
        return scan

    def outcome(self, idx: int, mark: int, logs: list[LogEntry], traced: bool) -> Outcome:
        """What the terminal rule `idx` (-1: the chain's policy) decides."""
        if logs or traced:
            return self._make(idx, mark, tuple(logs), traced)
        key = (idx, mark)
        found = self.outcomes.get(key)
        if found is None:
            found = self._make(idx, mark, (), False)
            if len(self.outcomes) < _OUTCOMES_MAX:  # marks are few; bound it all the same
                self.outcomes[key] = found
        return found

    def _make(self, idx: int, mark: int, logs: tuple[LogEntry, ...], traced: bool) -> Outcome:
        if idx < 0:
            assert self.policy is not None
            return Outcome(self.policy, None, self.name, mark, logs=logs, traced=traced)
        target = self.rules[idx].target
        ref = self.refs[idx]
        if isinstance(target, Reject):
            return Outcome(Verdict.DROP, ref, None, mark, reject=target, logs=logs,
                           traced=traced)
        if isinstance(target, (Snat, Dnat, Masquerade)):
            return Outcome(Verdict.ACCEPT, ref, None, mark, nat=target, logs=logs,
                           traced=traced)
        assert isinstance(target, Standard)
        return Outcome(target.verdict, ref, None, mark, logs=logs, traced=traced)


def _action(rule: Rule) -> int:
    t = rule.target
    if t is None:
        return _CONTINUE
    if isinstance(t, Standard):
        return _RETURN if t.verdict is Verdict.RETURN else _VERDICT
    if isinstance(t, Jump):
        return _GOTO if t.goto else _JUMP
    if isinstance(t, Log):
        return _LOG
    if isinstance(t, MarkTarget):
        return _MARK
    if isinstance(t, Trace):
        return _TRACE
    if isinstance(t, Reject):
        return _REJECT
    return _NAT


def _compiled_table(ruleset: Ruleset, table: str) -> dict[str, _Compiled]:
    hit = ruleset.compiled.get(table)
    if hit is not None and hit[0] == ruleset.generation:
        return hit[1]  # type: ignore[return-value]
    chains = {name: _Compiled(c) for name, c in ruleset.table(table).chains.items()}
    ruleset.compiled[table] = (ruleset.generation, chains)
    return chains


def log_text(prefix: str, p: Packet, mark: int) -> str:
    text = (f"{prefix}IN={p.iif or ''} OUT={p.oif or ''} SRC={ip_str(p.src)} "
            f"DST={ip_str(p.dst)} LEN={p.length} PROTO={proto_str(p.proto).upper()}")
    if p.sport is not None and p.dport is not None:
        text += f" SPT={p.sport} DPT={p.dport}"
    elif p.icmp_type is not None:
        text += f" TYPE={p.icmp_type} CODE={p.icmp_code or 0}"
    if mark:
        text += f" MARK=0x{mark:x}"
    return text


def evaluate(ruleset: Ruleset, table: str, chain: str, packet: Packet, *,
             count: bool = True) -> Outcome:
    """Traverse `table`/`chain` with `packet`; counters grow unless `count` is False."""
    chains = _compiled_table(ruleset, table)
    current = chains.get(chain)
    if current is None:
        raise InvalidConfig(f"no chain {chain!r} in table {table!r}")
    start = current
    mark = packet.mark
    traced = packet.traced
    logs: list[LogEntry] = []
    stack: list[tuple[_Compiled, int, int, int]] = []
    length = packet.length
    cand = current.index.candidates(packet, mark)
    # The candidates left: bits `base`.. of `cand` are `word` (the next _W) and `rest`;
    # `base` is a multiple of _W, so that a word is one of the chain's blocks.
    word, rest, base = cand & _WORD, cand >> _W, 0
    while True:
        if not word and rest:  # on to the word that holds the next candidate
            skip = ((rest & -rest).bit_length() - 1) // _W * _W
            base += _W + skip
            rest >>= skip
            word, rest = rest & _WORD, rest >> _W
        if word:
            if word.bit_count() >= _BLOCK_MIN:
                k = current.block(base)(packet, mark, word)
                if k < 0:
                    word = 0
                    continue
                word &= ~((2 << k) - 1)
                idx = base + k
            else:
                low = word & -word
                idx = base + low.bit_length() - 1
                word ^= low
                pred = current.preds[idx]
                if pred is not None and not pred(packet, mark):
                    continue
            if count:
                counter = current.counters[idx]
                counter.packets += 1
                counter.bytes += length
            action = current.actions[idx]
            rule = current.rules[idx]
            if traced:
                logs.append(LogEntry(4, f"TRACE: {table}:{current.name}:rule:{idx + 1} "
                                     + log_text("", packet, mark)))
            if action == _CONTINUE:
                continue
            if action == _LOG:
                target = rule.target
                assert isinstance(target, Log)
                logs.append(LogEntry(target.level, log_text(target.prefix, packet, mark)))
                continue
            if action == _MARK:
                target = rule.target
                assert isinstance(target, MarkTarget)
                new_mark = target.apply(mark)
                if new_mark != mark:
                    # Later rules test the new mark: recompute the candidates after this rule.
                    mark = new_mark
                    cand = current.index.candidates(packet, mark) & ~((2 << idx) - 1)
                    word, rest, base = cand & _WORD, cand >> _W, 0
                continue
            if action == _TRACE:
                traced = True
                continue
            if action == _JUMP or action == _GOTO:
                target = rule.target
                assert isinstance(target, Jump)
                if action == _JUMP:
                    stack.append((current, idx, ((rest << _W) | word) << base, mark))
                current = chains[target.chain]
                cand = current.index.candidates(packet, mark)
                word, rest, base = cand & _WORD, cand >> _W, 0
                continue
            if action != _RETURN:  # ACCEPT/DROP, REJECT or a NAT target: the walk ends
                return current.outcome(idx, mark, logs, traced)
            # _RETURN: like falling off the end of the chain.
        if stack:
            current, idx, cand, pushed_mark = stack.pop()
            if pushed_mark != mark:  # the callee re-marked: the caller's candidates change
                cand = current.index.candidates(packet, mark) & ~((2 << idx) - 1)
            word, rest, base = cand & _WORD, cand >> _W, 0
            if traced:
                logs.append(LogEntry(4, f"TRACE: {table}:{current.name}:return"))
            continue
        if current.policy is None:
            # Empty stack in a user chain: after a -g from the built-in chain, RETURN goes to
            # the hook's underflow (ipt_do_table), i.e. the starting chain's policy.
            if start.policy is None:
                return Outcome(Verdict.RETURN, None, None, mark, logs=tuple(logs), traced=traced)
            current = start
        if count and (ruleset.counts_policy or current.counted):
            current.policy_counters.packets += 1
            current.policy_counters.bytes += length
        if traced:
            logs.append(LogEntry(4, f"TRACE: {table}:{current.name}:policy"))
        return current.outcome(-1, mark, logs, traced)
