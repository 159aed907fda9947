"""The netfilter state of one simulated namespace (the kernel's struct netns_nf and netns_ct):
its iptables rules, ebtables filter, conntrack table and LOG lines.

Layering: a data type, low in the simulator. A namespace (devices.py) holds one, made on the
first iptables/ebtables write (`netfilter.nf_state`); what runs the rules on packets is
`netfilter.py`, above the IPv4 path. This module imports only the conntrack table and the
core's netfilter model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ctrnet.backends.sim.clock import Clock
from ctrnet.backends.sim.conntrack import Conntrack
from ctrnet.netfilter.ebtables import EbtablesFilter
from ctrnet.netfilter.model import AddrType, ConntrackMatch, Dnat, Masquerade, Policy, Snat
from ctrnet.netfilter.ruleset import Ruleset

#: Kernel log lines (LOG targets) kept per namespace.
LOG_LINES = 1000


class NfState:
    """The netfilter state of one namespace: iptables rules, ebtables filter, conntrack."""

    def __init__(self, clock: Clock) -> None:
        self.rules = Ruleset()
        self.ebtables: EbtablesFilter | None = None
        self.conntrack = Conntrack(clock)
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self._generation = -1
        self._tracking = False
        self._active: frozenset[tuple[str, str]] = frozenset()
        self._plans: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}
        # netfilter.AddrTypes, made on first use: the addrtype match's view of the routes.
        self.addr_types: Callable[[int, str | None], AddrType] | None = None

    def _refresh(self) -> None:
        rules = self.rules
        self._generation = rules.generation
        self._tracking = any(
            isinstance(rule.target, (Snat, Dnat, Masquerade))
            or any(isinstance(m, ConntrackMatch) for m in rule.matches)
            for table in rules.tables.values() for chain in table.chains.values()
            for rule in chain.rules)
        # A built-in chain without rules, with policy ACCEPT and without policy counters
        # changes nothing: such hooks are skipped.
        self._plans = {}
        self._active = frozenset(
            (table.name, chain.name) for table in rules.tables.values()
            for chain in table.chains.values()
            if chain.builtin and (chain.rules or chain.policy is not Policy.ACCEPT
                                  or chain.counted))

    def tracking(self) -> bool:
        """Conntrack runs in a namespace while some rule needs it (a conntrack/state match or
        a NAT target: their checkentry calls nf_ct_netns_get); seen on 6.18, a nat table with
        no such rule tracks nothing."""
        if self.rules.generation != self._generation:
            self._refresh()
        return self._tracking

    def plan(self, tables: tuple[str, ...], chain: str) -> tuple[str, ...]:
        """Of `tables`, those whose built-in `chain` can do anything to a packet."""
        if self.rules.generation != self._generation:
            self._refresh()
        key = (tables, chain)
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = tuple(t for t in tables if (t, chain) in self._active)
        return found

    def __getstate__(self) -> dict[str, Any]:
        # The compiled chains are closures (a cache): leave them out of a pickled world.
        self.rules.compiled = {}
        return dict(self.__dict__)
