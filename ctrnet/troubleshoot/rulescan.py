"""Just enough of an iptables-save table for the doctor: chain policies, each rule's options
and target, and which chains a hook chain reaches through jumps.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScannedRule:
    chain: str
    args: tuple[str, ...]

    @property
    def target(self) -> str | None:
        return self.option("-j") or self.option("-g")

    def option(self, name: str) -> str | None:
        """The value after `name` (e.g. "-s"), or None; a preceding "!" is not returned."""
        args = self.args
        for i, word in enumerate(args[:-1]):
            if word == name:
                return args[i + 1]
        return None

    def negated(self, name: str) -> bool:
        args = self.args
        return any(args[i] == "!" and args[i + 1] == name for i in range(len(args) - 1))


@dataclass
class Ruleset:
    policies: dict[str, str] = field(default_factory=dict)
    rules: list[ScannedRule] = field(default_factory=list)

    def chain(self, name: str) -> list[ScannedRule]:
        return [r for r in self.rules if r.chain == name]

    def reachable(self, hook: str) -> list[ScannedRule]:
        """The rules of `hook` and of every chain it jumps or goes to, transitively."""
        seen: list[str] = []
        todo = [hook]
        found: list[ScannedRule] = []
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            seen.append(name)
            for rule in self.chain(name):
                found.append(rule)
                target = rule.target
                if target is not None and target in self.policies and target not in seen:
                    todo.append(target)
        return found


def scan(save_text: str) -> Ruleset:
    """Parse the one table of `iptables-save -t TABLE` output."""
    ruleset = Ruleset()
    for line in save_text.splitlines():
        if line.startswith(":"):
            name, _, rest = line[1:].partition(" ")
            ruleset.policies[name] = rest.split(" ")[0] if rest else "-"
        elif line.startswith("-A "):
            words = shlex.split(line)
            ruleset.rules.append(ScannedRule(words[1], tuple(words[2:])))
    return ruleset
