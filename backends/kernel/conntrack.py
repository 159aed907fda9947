"""The conntrack table of a namespace, read and flushed with conntrack-tools.

`conntrack -L -o extended` prints one flow per line: family, protocol, timeout, the TCP state,
then the original tuple and the reply tuple as key=value runs (the reply tuple is where NAT
shows: a DNATed flow expects its reply from the real server) and flags such as [ASSURED].
"""

from __future__ import annotations

from ctrnet.types import ConntrackEntry

from . import tools


def list_entries(real_ns: str, ns: str) -> list[ConntrackEntry]:
    outcome = tools.run(real_ns, ["conntrack", "-L", "-o", "extended"])
    if not outcome.ok:
        raise tools.failure("conntrack", ns, outcome)
    entries = []
    for line in outcome.stdout.splitlines():
        entry = parse_line(ns, line)
        if entry is not None:
            entries.append(entry)
    return entries


def flush(real_ns: str, ns: str) -> None:
    outcome = tools.run(real_ns, ["conntrack", "-F"])
    if not outcome.ok:
        raise tools.failure("conntrack", ns, outcome)


def parse_line(ns: str, line: str) -> ConntrackEntry | None:
    """One `-o extended` line as an entry; None for what ctrnet does not model (IPv6)."""
    words = line.split()
    if len(words) < 5 or words[0] != "ipv4":
        return None
    proto = words[2]
    state: str | None = None
    # words: family, family number, protocol, protocol number, timeout, [TCP state], tuples
    if len(words) > 5 and "=" not in words[5] and not words[5].startswith("["):
        state = words[5]
    tuples: list[dict[str, str]] = [{}, {}]
    side = 0
    for word in words[5:]:
        key, eq, value = word.partition("=")
        if not eq:
            continue
        if key in tuples[side] and side == 0:
            side = 1  # a second src= starts the reply tuple
        if key in ("src", "dst", "sport", "dport") and key not in tuples[side]:
            tuples[side][key] = value
    orig, reply = tuples
    if "src" not in orig or "src" not in reply:
        return None
    return ConntrackEntry(
        ns=ns,
        proto=proto,
        orig_src=orig["src"],
        orig_dst=orig["dst"],
        reply_src=reply["src"],
        reply_dst=reply["dst"],
        orig_sport=_port(orig.get("sport")),
        orig_dport=_port(orig.get("dport")),
        reply_sport=_port(reply.get("sport")),
        reply_dport=_port(reply.get("dport")),
        state=state,
        assured="[ASSURED]" in words,
    )


def _port(text: str | None) -> int | None:
    return int(text) if text is not None else None
