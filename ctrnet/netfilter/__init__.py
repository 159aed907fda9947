"""The netfilter rule model of ctrnet: iptables tables, chains and rules as data.

`parse` reads iptables argv and iptables-save text, `render`/`listing` write them back the way
this machine's iptables prints them, `ruleset` holds a namespace's tables and runs the iptables
verbs on them, `evaluate` walks a packet through a chain, and `ebtables` models the bridge filter
table. Pure Python: no I/O, no backend code.
"""

from ctrnet.netfilter.model import Rule
from ctrnet.netfilter.parse import parse_command, parse_rule
from ctrnet.netfilter.ruleset import Ruleset

__all__ = ["Rule", "Ruleset", "parse_command", "parse_rule"]
