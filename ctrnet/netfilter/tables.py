"""The tables of one namespace's iptables state as data: a Table of Chains, each chain's rules
with their counters. The verbs that change them are `ruleset`'s; listing and saving them is
`listing`'s; both read these types, which depend on nothing but the rule model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctrnet.netfilter.model import BUILTIN_CHAINS, Counters, Jump, Policy, Rule


@dataclass
class Chain:
    """A chain's rules with their counters; `policy` is None for a user chain."""

    name: str
    policy: Policy | None = None
    rules: list[Rule] = field(default_factory=list)
    counters: list[Counters] = field(default_factory=list)
    policy_counters: Counters = field(default_factory=Counters)
    #: Whether the policy counts what it decides. iptables-nft creates a base chain without
    #: counters; setting its policy (`-P`, or a `:CHAIN POLICY` line of iptables-restore)
    #: gives it NFTA_CHAIN_COUNTERS, and from then on the kernel counts (seen on 6.18).
    counted: bool = False

    @property
    def builtin(self) -> bool:
        return self.policy is not None


@dataclass
class Table:
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)

    @classmethod
    def fresh(cls, name: str) -> Table:
        return cls(name, {c: Chain(c, Policy.ACCEPT) for c in BUILTIN_CHAINS[name]})

    def chain_order(self) -> list[Chain]:
        """Built-ins in hook order, then user chains sorted by name (as iptables-save prints)."""
        builtin = [self.chains[c] for c in BUILTIN_CHAINS[self.name]]
        return builtin + sorted((c for c in self.chains.values() if not c.builtin),
                                key=lambda c: c.name.encode())

    def clone(self) -> Table:
        """A copy to change (rules are immutable and shared; lists and counters are not)."""
        return Table(self.name, {n: Chain(c.name, c.policy, list(c.rules),
                                          [Counters(k.packets, k.bytes) for k in c.counters],
                                          Counters(c.policy_counters.packets,
                                                   c.policy_counters.bytes), c.counted)
                                 for n, c in self.chains.items()})

    def references(self, name: str) -> int:
        return sum(1 for c in self.chains.values() for r in c.rules
                   if isinstance(r.target, Jump) and r.target.chain == name)

    def hooks_reaching(self, name: str) -> set[str]:
        """The built-in chains from which `name` is reachable by jumps and gotos."""
        hooks: set[str] = set()
        for start in BUILTIN_CHAINS[self.name]:
            seen, todo = {start}, [start]
            while todo:
                chain = self.chains[todo.pop()]
                for r in chain.rules:
                    if isinstance(r.target, Jump) and r.target.chain not in seen:
                        seen.add(r.target.chain)
                        todo.append(r.target.chain)
            if name in seen:
                hooks.add(start)
        return hooks
