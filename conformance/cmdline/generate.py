"""Generated differential cases: hypothesis strategies over the shims' command grammar, and
the check that runs one case on both sides (`ctrnet.compare.oracle`) and judges the difference.

A case is a starting topology (a few commands that build it) and a short sequence of tool
invocations — `ip`, `bridge`, `iptables`, `iptables-save`, `iptables-restore`, `ebtables`,
`tc`, `sysctl`, `ping`, `nc`, `sleep` — valid and invalid, over a small vocabulary of names
and addresses so that the commands meet each other (a route through an address added
before, a rule on a device that exists or not). A case that diverges and is not in the
sickbay fails; hypothesis then shrinks it to a minimal script.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from ctrnet.compare import oracle
from ctrnet.conformance.cmdline import sickbay

#: Starting topologies: name -> the script that builds it (its commands are compared too).
TOPOLOGIES: dict[str, tuple[str, ...]] = {
    "empty": (),
    "bridge": (
        "ip link add br0 type bridge",
        "ip link set br0 up",
        "ip addr add 10.0.0.1/24 dev br0",
    ),
    "containers": (
        "ip link add br0 type bridge",
        "ip link set br0 up",
        "ip addr add 10.0.0.1/24 dev br0",
        "ip netns add c1",
        "ip link add veth0 type veth peer name eth0 netns c1",
        "ip link set veth0 master br0 up",
        "ip netns exec c1 ip link set lo up",
        "ip netns exec c1 ip link set eth0 up",
        "ip netns exec c1 ip addr add 10.0.0.2/24 dev eth0",
        "ip netns exec c1 ip route add default via 10.0.0.1",
    ),
    "routed": (
        "ip netns add wan",
        "ip link add uplink type veth peer name wan0 netns wan",
        "ip link set uplink up",
        "ip addr add 198.51.100.1/24 dev uplink",
        "ip netns exec wan ip link set wan0 up",
        "ip netns exec wan ip addr add 198.51.100.2/24 dev wan0",
        "ip link add br0 type bridge",
        "ip link set br0 up",
        "ip addr add 10.0.0.1/24 dev br0",
        "sysctl -w net.ipv4.ip_forward=1",
    ),
}

DEVICES = ("br0", "veth0", "uplink", "eth0", "nosuch")
ADDRESSES = ("10.0.0.1", "10.0.0.2", "10.0.0.3", "198.51.100.2", "203.0.113.9", "127.0.0.1")
PREFIXES = ("10.0.0.3/24", "10.0.0.1/24", "192.0.2.1/24", "198.51.100.5/24", "10.0.0.9/33",
            "10.1.0.1/16")
MACS = ("02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff", "zz:00:00:00:00:00")
ROUTES = ("default via 10.0.0.254", "198.51.100.0/24 via 10.0.0.2", "203.0.113.0/24 dev br0",
          "blackhole 203.0.113.0/24", "unreachable 192.0.2.0/24", "prohibit 192.0.2.128/25",
          "10.9.0.0/16 via 192.0.2.99", "203.0.113.0/24 via 10.0.0.2 dev nosuch")
CHAINS = ("INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING", "NOCHAIN")
MATCHES = ("", "-s 10.0.0.0/24", "-d 198.51.100.2", "-p tcp --dport 80", "-p udp --sport 53",
           "-i br0", "-o uplink", "-m conntrack --ctstate ESTABLISHED,RELATED", "--bogus 1",
           "-p icmp", "! -s 10.0.0.2")
TARGETS = ("ACCEPT", "DROP", "REJECT", "RETURN", "MASQUERADE", "LOG",
           "DNAT --to-destination 10.0.0.2:80", "SNAT --to-source 198.51.100.1", "NOSUCH")

_pick = st.sampled_from


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _ip() -> st.SearchStrategy[str]:
    dev, addr, prefix = _pick(DEVICES), _pick(ADDRESSES), _pick(PREFIXES)
    return st.one_of(
        st.builds(lambda d, kind: f"ip link add {d} type {kind}", _pick(DEVICES),
                  _pick(("bridge", "veth peer name veth1", "dummy", "nosuchkind"))),
        st.builds(lambda d, how: f"ip link set {d} {how}", dev,
                  _pick(("up", "down", "mtu 1400", "mtu 70000", "master br0", "nomaster",
                         "address 02:00:00:00:00:01", "name renamed0"))),
        st.builds(lambda d: f"ip link del {d}", dev),
        st.builds(lambda opts, d: _join("ip", opts, "link show", d), _pick(("", "-br", "-o")),
                  _pick(("", *DEVICES))),
        st.builds(lambda verb, p, d: f"ip addr {verb} {p} dev {d}", _pick(("add", "del")),
                  prefix, dev),
        st.builds(lambda opts, d: _join("ip", opts, "addr show", d and f"dev {d}"),
                  _pick(("", "-4", "-br", "-j")), _pick(("", *DEVICES))),
        st.builds(lambda d: f"ip addr flush dev {d}", dev),
        st.builds(lambda verb, r: f"ip route {verb} {r}", _pick(("add", "del", "replace")),
                  _pick(ROUTES)),
        _pick(("ip route", "ip route show table local", "ip -br route", "ip r s",
               "ip route show table main")),
        st.builds(lambda a, frm: _join("ip route get", a, frm), addr,
                  _pick(("", "from 10.0.0.1", "from 198.51.100.9"))),
        st.builds(lambda verb, a, m, d, nud: f"ip neigh {verb} {a} lladdr {m} dev {d} {nud}",
                  _pick(("add", "replace", "change")), addr, _pick(MACS), dev,
                  _pick(("", "nud permanent", "nud reachable", "nud stale"))),
        st.builds(lambda a, d: f"ip neigh del {a} dev {d}", addr, dev),
        _pick(("ip neigh", "ip neigh show dev br0", "ip -s neigh flush all")),
        st.builds(lambda verb, n: f"ip netns {verb} {n}", _pick(("add", "del")),
                  _pick(("c1", "c2", "wan"))),
        _pick(("ip netns list", "ip netns")),
    ).map(str.strip)


def _bridge() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda verb, m, d, flags: _join("bridge fdb", verb, m, "dev", d, flags),
                  _pick(("add", "del", "replace", "append")), _pick(MACS), _pick(DEVICES),
                  _pick(("", "master", "master static", "master permanent", "master dynamic",
                         "self"))),
        _pick(("bridge fdb show br br0", "bridge link", "bridge link show",
               "bridge fdb show dev veth0")),
        st.builds(lambda d, on: f"bridge link set dev {d} hairpin {on}", _pick(DEVICES),
                  _pick(("on", "off"))),
    )


def _iptables() -> st.SearchStrategy[str]:
    table = _pick(("", "-t nat", "-t filter", "-t mangle", "-t raw", "-t nosuch"))
    return st.one_of(
        st.builds(lambda t, verb, c, m, j: _join("iptables", t, verb, c, m, "-j", j), table,
                  _pick(("-A", "-I")), _pick(CHAINS), _pick(MATCHES), _pick(TARGETS)),
        st.builds(lambda t, c, m, j: _join("iptables", t, "-D", c, m, "-j", j), table,
                  _pick(CHAINS), _pick(MATCHES), _pick(TARGETS)),
        st.builds(lambda c, p: f"iptables -P {c} {p}", _pick(CHAINS),
                  _pick(("ACCEPT", "DROP", "RETURN"))),
        st.builds(lambda t, verb: _join("iptables", t, verb), table,
                  _pick(("-L -n", "-nL", "-L -n -v", "-S", "-F", "-Z", "-X", "-N MYCHAIN",
                         "-L FORWARD -n --line-numbers", "-D INPUT 1", "-nvL INPUT"))),
        st.builds(lambda t: _join("iptables-save", t), _pick(("", "-t nat", "-t filter", "-c"))),
        st.builds(lambda body: f"printf '{body}' | iptables-restore --noflush",
                  _pick(("*filter\\n-A INPUT -s 10.0.0.2 -j DROP\\nCOMMIT\\n",
                         "*nat\\n-A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE\\nCOMMIT\\n",
                         "*filter\\n-A NOCHAIN -j ACCEPT\\nCOMMIT\\n",
                         "*filter\\n:FORWARD DROP [0:0]\\nCOMMIT\\n",
                         "*filter\\n-A INPUT -j ACCEPT\\n"))),
    )


def _ebtables() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda c, m, j: _join("ebtables -A", c, m, "-j", j),
                  _pick(("FORWARD", "INPUT", "OUTPUT", "NOCHAIN")),
                  _pick(("", "-s 02:00:00:00:00:01", "-d ff:ff:ff:ff:ff:ff", "-i veth0",
                         "-p IPv4 --ip-src 10.0.0.2", "-p IPv4 --ip-dst 10.0.0.1",
                         "-p ARP", "-s zz")), _pick(("ACCEPT", "DROP", "CONTINUE"))),
        _pick(("ebtables -L", "ebtables -F", "ebtables -P FORWARD DROP", "ebtables -t nat -L",
               "ebtables -L --Lc", "ebtables -X")),
    )


def _tc() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda verb, d, spec: f"tc qdisc {verb} dev {d} root {spec}",
                  _pick(("add", "replace", "change")), _pick(DEVICES),
                  _pick(("tbf rate 1mbit burst 32k latency 400ms",
                         "tbf rate 2mbit burst 10k limit 10000", "tbf rate 1mbit",
                         "netem delay 10ms", "noqueue"))),
        st.builds(lambda d: f"tc qdisc del dev {d} root", _pick(DEVICES)),
        st.builds(lambda opts, d: _join("tc", opts, "qdisc show", d and f"dev {d}"),
                  _pick(("", "-s")), _pick(("", *DEVICES))),
    )


def _sysctl() -> st.SearchStrategy[str]:
    return _pick((
        "sysctl net.ipv4.ip_forward", "sysctl -w net.ipv4.ip_forward=1",
        "sysctl -w net.ipv4.ip_forward=0", "sysctl -w net.ipv4.ip_forward=2",
        "sysctl -w net.ipv4.conf.br0.forwarding=1", "sysctl net.bridge.bridge-nf-call-iptables",
        "sysctl -n net.ipv4.conf.all.rp_filter", "sysctl net.ipv4.nosuch",
        "sysctl -w net.ipv4.conf.all.route_localnet=1", "sysctl net.ipv4.conf.br0.proxy_arp",
        # Values the simulator refuses loudly (rp_filter, echo to broadcasts), models
        # (accept_local, send_redirects, conf.default inherited) or cannot be changed by.
        "sysctl -w net.ipv4.conf.all.rp_filter=2",
        "sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0",
        "sysctl -w net.ipv4.conf.all.accept_local=1",
        "sysctl -w net.ipv4.conf.default.send_redirects=0",
        "sysctl net.ipv4.conf.br0.send_redirects",
        "sysctl -w net.bridge.bridge-nf-call-arptables=0",
    ))


def _probes() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda a: f"ping -c 1 -W 1 {a}", _pick(ADDRESSES)),
        st.builds(lambda a, p: f"nc -z -w 1 {a} {p}", _pick(ADDRESSES), _pick(("80", "22"))),
        _pick(("sleep 0.2", "sleep 1")),
    )


#: Each tool's strategy; the key is the tool a generated command starts with.
TOOLS: dict[str, st.SearchStrategy[str]] = {
    "ip": _ip(), "bridge": _bridge(), "iptables": _iptables(), "ebtables": _ebtables(),
    "tc": _tc(), "sysctl": _sysctl(), "probe": _probes(),
}


@dataclass(frozen=True)
class Case:
    topology: str
    commands: tuple[str, ...]

    def script(self) -> str:
        return "\n".join((*TOPOLOGIES[self.topology], *self.commands)) + "\n"


def _in_namespace(topology: str, command: str, inside: bool) -> str:
    """Some commands run in the containers' namespace when the topology has one."""
    if inside and topology == "containers" and not command.startswith(("printf", "ip netns")):
        return f"ip netns exec c1 {command}"
    return command


@st.composite
def cases(draw: st.DrawFn, max_commands: int = 5) -> Case:
    topology = draw(_pick(tuple(TOPOLOGIES)))
    count = draw(st.integers(min_value=1, max_value=max_commands))
    commands = []
    for _ in range(count):
        command = draw(st.one_of(*TOOLS.values()))
        commands.append(_in_namespace(topology, command, draw(st.booleans())))
    return Case(topology, tuple(commands))


def tool_of(command_line: str) -> str:
    """The tool a transcript's `$ ` line (or a script line) invokes, past `ip netns exec NS`."""
    words = shlex.split(command_line.removeprefix("$ ")) if command_line else []
    while words[:3] == ["ip", "netns", "exec"] and len(words) > 4:
        words = words[4:]
    if not words:
        return ""
    name = words[0]
    return {"iptables-save": "iptables", "iptables-restore": "iptables"}.get(name, name)


@dataclass
class Verdict:
    """One case's outcome: identical, accepted by a sickbay entry, or a divergence."""

    case: Case
    identical: bool
    first_line: str = ""  # the `$ ` line of the first diverging invocation
    refused: bool = False
    entry: sickbay.Divergence | None = None
    diff: list[str] = field(default_factory=list)


def first_divergence(sim: list[str], kernel: list[str]) -> tuple[str, bool]:
    """The `$ ` line heading the first line that differs, and whether the simulator's side
    refused (`ctrnet sim:`) within that invocation."""
    header = ""
    index = min(len(sim), len(kernel))
    for position, (left, right) in enumerate(zip(sim, kernel, strict=False)):
        if left != right:
            index = position
            break
        if left.startswith("$ "):
            header = left
    block = []
    for line in sim[index:]:
        if line.startswith("$ "):
            break
        block.append(line)
    refused = any(line.startswith("stderr: " + oracle.REFUSAL) for line in block)
    return header, refused


def judge(case: Case, timeout: float = 30.0) -> Verdict:
    """Run `case` on both sides and judge the outcome."""
    result = oracle.compare(["sh", "-c", case.script()], timeout=timeout)
    if result.identical:
        return Verdict(case, True)
    header, refused = first_divergence(result.sim_lines, result.kernel_lines)
    return Verdict(case, False, header, refused, sickbay.accepted(header, refused),
                   result.diff())


@dataclass
class Tally:
    """How many generated cases ran and diverged, per tool (the tool of the first diverging
    invocation, for divergences; every tool a case used, for cases)."""

    started: float = field(default_factory=time.monotonic)
    cases: Counter[str] = field(default_factory=Counter)
    diverged: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    total: int = 0
    total_diverged: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        self.total += 1
        for tool in {tool_of(_strip_pipe(c)) for c in verdict.case.commands}:
            self.cases[tool] += 1
        if verdict.identical:
            return
        self.total_diverged += 1
        tool = tool_of(verdict.first_line) if verdict.first_line.startswith("$ ") else "?"
        (self.refused if verdict.refused else self.diverged)[tool] += 1
        self.examples.setdefault(verdict.first_line, verdict.case.script())

    def as_dict(self) -> dict[str, object]:
        minutes = (time.monotonic() - self.started) / 60
        return {
            "cases": self.total, "diverged": self.total_diverged,
            "minutes": round(minutes, 2),
            "cases_per_minute": round(self.total / minutes, 1) if minutes else None,
            "per_tool": {tool: {"cases": self.cases[tool], "diverged": self.diverged[tool],
                                "refused": self.refused[tool]}
                         for tool in sorted(self.cases | self.diverged | self.refused)},
            "first_diverging_invocations": self.examples,
        }

    def write(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


def _strip_pipe(command: str) -> str:
    """`printf '…' | iptables-restore --noflush` -> `iptables-restore --noflush`."""
    return command.rsplit("|", 1)[-1].strip() if command.startswith("printf") else command


#: Environment: the long mode's budget in seconds (default: the fixed budget of tox -e kernel).
SECONDS_ENV = "CTRNET_FUZZ_SECONDS"
#: Environment: where to write the tally as JSON (for docs/fidelity.md).
REPORT_ENV = "CTRNET_FUZZ_REPORT"


def budget() -> tuple[int, float | None]:
    """(cases per hypothesis run, seconds for the long mode or None for the fixed budget)."""
    seconds = os.environ.get(SECONDS_ENV)
    if seconds and re.fullmatch(r"\d+(\.\d+)?", seconds):
        return 25, float(seconds)
    return 40, None
