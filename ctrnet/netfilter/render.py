"""Rules back to text: argv, `iptables -S` lines and iptables-save/-restore text.

The order and spelling are those of this machine's iptables-save (v1.8.9, nf_tables): -s -d -i
-o -p, then the matches in rule order, then -j/-g with the target's options; strings quoted
by xtables_save_string(). Golden files in tests/data pin it.
"""

from __future__ import annotations

from ctrnet.netfilter.model import (
    CTSTATE_ORDER,
    STATE_ORDER,
    AddrType,
    AddrtypeMatch,
    CommentMatch,
    ConntrackMatch,
    Counters,
    CtState,
    Dnat,
    IcmpMatch,
    Jump,
    Log,
    MarkMatch,
    MarkTarget,
    Masquerade,
    Match,
    MultiportMatch,
    NatRange,
    PhysdevMatch,
    PortMatch,
    Reject,
    Rule,
    Snat,
    Standard,
    Target,
    Trace,
)
from ctrnet.netfilter.values import (
    ip_str,
    network_str,
    port_range_str,
    proto_str,
    save_string,
)


def states_str(states: CtState, module: str) -> str:
    order = STATE_ORDER if module == "state" else CTSTATE_ORDER
    return ",".join(s.name or "" for s in order if s in states)


def addrtypes_str(types: AddrType) -> str:
    return ",".join(t.name or "" for t in AddrType if t in types)


def mark_str(value: int, mask: int) -> str:
    return f"0x{value:x}" if mask == 0xFFFFFFFF else f"0x{value:x}/0x{mask:x}"


def _neg(invert: bool) -> list[str]:
    return ["!"] if invert else []


def match_words(m: Match, quote: bool = True) -> list[str]:
    """`-m NAME OPTIONS…` as iptables-save prints one match (strings already quoted)."""
    if isinstance(m, PortMatch):
        words = ["-m", m.proto]
        if m.sport is not None:
            words += [*_neg(m.sport_invert), "--sport", port_range_str(m.sport)]
        if m.dport is not None:
            words += [*_neg(m.dport_invert), "--dport", port_range_str(m.dport)]
        return words
    if isinstance(m, IcmpMatch):
        if (m.type, m.code_min, m.code_max) == (255, 0, 255):
            value = "any"
        elif (m.code_min, m.code_max) == (0, 255):
            value = str(m.type)
        else:
            value = f"{m.type}/{m.code_min}"
        return ["-m", "icmp", *_neg(m.invert), "--icmp-type", value]
    if isinstance(m, MultiportMatch):
        ports = ",".join(port_range_str(p) for p in m.ports)
        return ["-m", "multiport", *_neg(m.invert), f"--{m.kind.value}", ports]
    if isinstance(m, ConntrackMatch):
        opt = "--state" if m.module == "state" else "--ctstate"
        return ["-m", m.module, *_neg(m.invert), opt, states_str(m.states, m.module)]
    if isinstance(m, AddrtypeMatch):
        words = ["-m", "addrtype"]
        if m.src_types is not None:
            words += [*_neg(m.src_invert), "--src-type", addrtypes_str(m.src_types)]
        if m.dst_types is not None:
            words += [*_neg(m.dst_invert), "--dst-type", addrtypes_str(m.dst_types)]
        if m.limit_iface_in:
            words.append("--limit-iface-in")
        if m.limit_iface_out:
            words.append("--limit-iface-out")
        return words
    if isinstance(m, CommentMatch):
        return ["-m", "comment", "--comment", save_string(m.text) if quote else m.text]
    if isinstance(m, MarkMatch):
        return ["-m", "mark", *_neg(m.invert), "--mark", mark_str(m.value, m.mask)]
    if isinstance(m, PhysdevMatch):
        words = ["-m", "physdev"]
        if m.physdev_in is not None:
            words += [*_neg(m.in_invert), "--physdev-in", m.physdev_in.name]
        if m.physdev_out is not None:
            words += [*_neg(m.out_invert), "--physdev-out", m.physdev_out.name]
        for present, inv, opt in ((m.is_in, m.is_in_invert, "--physdev-is-in"),
                                  (m.is_out, m.is_out_invert, "--physdev-is-out"),
                                  (m.is_bridged, m.is_bridged_invert, "--physdev-is-bridged")):
            if present:
                words += [*_neg(inv), opt]
        return words
    raise TypeError(f"not a match: {m!r}")


def nat_range_str(to: NatRange) -> str:
    text = ""
    if to.ip_min is not None:
        text = ip_str(to.ip_min)
        if to.ip_max is not None and to.ip_max != to.ip_min:
            text += "-" + ip_str(to.ip_max)
    if to.port_min is not None:
        text += f":{to.port_min}"
        if to.port_max is not None and to.port_max != to.port_min:
            text += f"-{to.port_max}"
    return text


def target_words(t: Target, quote: bool = True) -> list[str]:
    if isinstance(t, Standard):
        return ["-j", t.verdict.value]
    if isinstance(t, Jump):
        return ["-g" if t.goto else "-j", t.chain]
    if isinstance(t, Reject):
        return ["-j", "REJECT", "--reject-with", t.with_]
    if isinstance(t, Log):
        words = ["-j", "LOG"]
        if t.prefix:
            words += ["--log-prefix", save_string(t.prefix) if quote else t.prefix]
        if t.level != 4:
            words += ["--log-level", str(t.level)]
        return words
    if isinstance(t, MarkTarget):
        return ["-j", "MARK", "--set-xmark", f"0x{t.value:x}/0x{t.mask:x}"]
    if isinstance(t, (Snat, Dnat)):
        name, opt = ("SNAT", "--to-source") if isinstance(t, Snat) else ("DNAT", "--to-destination")
        words = ["-j", name, opt, nat_range_str(t.to)]
        if t.random:
            words.append("--random")
        if t.persistent:
            words.append("--persistent")
        return words
    if isinstance(t, Masquerade):
        words = ["-j", "MASQUERADE"]
        if t.port_min is not None:
            ports = str(t.port_min) if t.port_max == t.port_min else f"{t.port_min}-{t.port_max}"
            words += ["--to-ports", ports]
        if t.random:
            words.append("--random")
        return words
    if isinstance(t, Trace):
        return ["-j", "TRACE"]
    raise TypeError(f"not a target: {t!r}")


def rule_words(rule: Rule, counters: Counters | None = None, quote: bool = True) -> list[str]:
    """The rule after `-A CHAIN`, as iptables-save prints it; `-c P B` before the target."""
    words: list[str] = []
    if rule.src is not None:
        words += [*_neg(rule.src_invert), "-s", network_str(rule.src)]
    if rule.dst is not None:
        words += [*_neg(rule.dst_invert), "-d", network_str(rule.dst)]
    if rule.in_iface is not None:
        words += [*_neg(rule.in_invert), "-i", rule.in_iface.name]
    if rule.out_iface is not None:
        words += [*_neg(rule.out_invert), "-o", rule.out_iface.name]
    if rule.proto != 0:
        words += [*_neg(rule.proto_invert), "-p", proto_str(rule.proto)]
    for m in rule.matches:
        words += match_words(m, quote)
    if counters is not None:
        words += ["-c", str(counters.packets), str(counters.bytes)]
    if rule.target is not None:
        words += target_words(rule.target, quote)
    return words


def rule_spec(rule: Rule) -> str:
    """The rule as one line of shell-free text (`-s 10.0.0.0/24 -j ACCEPT`)."""
    return " ".join(rule_words(rule))


def append_line(chain: str, rule: Rule, counters: Counters | None = None) -> str:
    """`-A CHAIN …`: a line of iptables-save, or of `iptables -S` (with `-c` when verbose)."""
    return " ".join(["-A", chain, *rule_words(rule, counters)])


def save_rule_line(chain: str, rule: Rule, counters: Counters | None) -> str:
    """An iptables-save rule line; with counters (`-c`) in the `[P:B] -A …` form."""
    line = " ".join(["-A", chain, *rule_words(rule)])
    if counters is None:
        return line
    return f"[{counters.packets}:{counters.bytes}] {line}"


def rule_argv(chain: str, rule: Rule, table: str = "filter") -> list[str]:
    """argv for the iptables binary that appends `rule` (unquoted: one word per element)."""
    return ["-t", table, "-A", chain, *rule_words(rule, quote=False)]
