"""ctrnet's iptables and ebtables rules, computed from the networks and endpoints it holds.

The rules are a function of the state. A network change renders the whole content of
ctrnet's own chains (`render`) and applies it with ONE `iptables-restore --noflush` (naming a
user chain again flushes it, so the text replaces it, atomically per table); a connect or
disconnect appends or deletes only its endpoint's rules (`endpoint_rules`, `change_text`).
Built-in chains get one jump each, added with the first network and removed with the last
(Docker's layout: DOCKER-ISOLATION-STAGE-1/2, a nat chain reached through
`-m addrtype --dst-type LOCAL`, MASQUERADE in POSTROUTING).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ctrnet.netfilter import Rule, parse_rule
from ctrnet.netfilter.render import append_line
from ctrnet.network import EndpointRecord, Mode, NetworkSpec

__all__ = [
    "FILTER_CHAINS",
    "JUMPS",
    "NAT_CHAINS",
    "Rules",
    "base_remove_text",
    "change_text",
    "endpoint_rules",
    "ebtables_spoof_rules",
    "ebtables_spoof_text",
    "render",
    "restore_text",
]

FORWARD = "CTRNET-FORWARD"
INPUT = "CTRNET-INPUT"
SPOOF = "CTRNET-SPOOF"
ISOLATION_1 = "CTRNET-ISOLATION-1"
ISOLATION_2 = "CTRNET-ISOLATION-2"
ICC = "CTRNET-ICC"
DNAT = "CTRNET-DNAT"
POSTROUTING = "CTRNET-POSTROUTING"

FILTER_CHAINS = (FORWARD, INPUT, SPOOF, ISOLATION_1, ISOLATION_2, ICC)
NAT_CHAINS = (DNAT, POSTROUTING)

#: (table, built-in chain, rule spec) of the one jump per built-in chain.
JUMPS: tuple[tuple[str, str, str], ...] = (
    ("filter", "FORWARD", f"-j {FORWARD}"),
    ("filter", "INPUT", f"-j {INPUT}"),
    # Published ports answer on every local address (addrtype LOCAL), as Docker's DOCKER chain.
    ("nat", "PREROUTING", f"-m addrtype --dst-type LOCAL -j {DNAT}"),
    # The host itself, except loopback: DNAT from 127/8 needs route_localnet, which we leave off.
    ("nat", "OUTPUT", f"! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j {DNAT}"),
    ("nat", "POSTROUTING", f"-j {POSTROUTING}"),
)


@dataclass
class Rules:
    """The content of ctrnet's chains: table -> chain -> rules, in order."""

    chains: dict[str, dict[str, list[Rule]]] = field(default_factory=dict)

    def add(self, table: str, chain: str, spec: str) -> None:
        self.chains.setdefault(table, {}).setdefault(chain, []).append(parse_rule(spec, chain))

    def extend(self, other: Rules) -> None:
        for table, chains in other.chains.items():
            for chain, rules in chains.items():
                self.chains.setdefault(table, {}).setdefault(chain, []).extend(rules)

    def lines(self, table: str) -> list[str]:
        return [append_line(chain, rule)
                for chain, rules in self.chains.get(table, {}).items() for rule in rules]


def _port_match(ports_proto: str, port: int) -> str:
    return f"-p {ports_proto} -m {ports_proto} --dport {port}"


def endpoint_rules(net: NetworkSpec, ep: EndpointRecord) -> Rules:
    """The rules one endpoint adds. They live in chains where their order does not matter
    (SPOOF, ICC, DNAT, POSTROUTING hold only rules of disjoint endpoints or one verdict), so a
    connect appends them and a disconnect deletes them: O(1), whatever the number of
    containers, instead of re-rendering everything."""
    rules = Rules()
    if net.antispoof:
        # br_netfilter sets physindev on every frame that entered through a bridge port,
        # bridged or routed: a packet from this port must carry the endpoint's address.
        rules.add("filter", SPOOF,
                  f"-m physdev --physdev-in {ep.host_ifname} ! -s {ep.ip}/32 -j DROP")
    for port in ep.ports:
        match = _port_match(str(port.proto), port.container_port)
        if not net.icc:
            # A published port stays reachable by its neighbours through the host address
            # (hairpin) when ICC is off: the DNATed connection may cross the bridge.
            rules.add("filter", ICC, f"-d {ep.ip}/32 -i {net.bridge} -o {net.bridge} {match} "
                                     "-m conntrack --ctstate DNAT -j ACCEPT")
        dst = f"-d {port.host_ip}/32 " if port.host_ip else ""
        rules.add("nat", DNAT, f"{dst}{_port_match(str(port.proto), port.host_port)} "
                               f"-j DNAT --to-destination {ep.ip}:{port.container_port}")
        # Hairpin (Docker with userland-proxy=false): a container of the subnet, the endpoint
        # itself included, reaching the port through the host address must see the reply
        # come from the host, so its source becomes the gateway.
        rules.add("nat", POSTROUTING, f"-s {net.subnet} -d {ep.ip}/32 {match} -j MASQUERADE")
    return rules


def render(networks: Iterable[NetworkSpec], endpoints: Iterable[EndpointRecord]) -> Rules:
    """All of ctrnet's rules for these networks and (active, bridge-mode) endpoints."""
    nets = sorted(networks, key=lambda n: n.name)
    by_name = {n.name: n for n in nets}
    eps = sorted((e for e in endpoints
                  if e.active and e.mode is Mode.BRIDGE and e.network in by_name),
                 key=lambda e: e.key)
    rules = Rules()
    for table, chains in (("filter", FILTER_CHAINS), ("nat", NAT_CHAINS)):
        rules.chains[table] = {chain: [] for chain in chains}

    rules.add("filter", FORWARD, f"-j {SPOOF}")
    rules.add("filter", FORWARD, f"-j {ISOLATION_1}")
    rules.add("filter", FORWARD, f"-j {ICC}")
    rules.add("filter", INPUT, f"-j {SPOOF}")
    for net in nets:
        # Stage 1 catches what leaves a network's bridge for elsewhere, stage 2 drops it if
        # elsewhere is another ctrnet bridge: networks are isolated, the uplink is not.
        rules.add("filter", ISOLATION_1, f"-i {net.bridge} ! -o {net.bridge} -j {ISOLATION_2}")
        rules.add("filter", ISOLATION_2, f"-o {net.bridge} -j DROP")
        if not net.icc:
            # Replies of a DNATed (published) connection cross the bridge too, addressed to
            # the neighbour that opened it; a connection ICC refused never gets this far.
            rules.add("filter", FORWARD, f"-i {net.bridge} -o {net.bridge} "
                                         "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
            rules.add("filter", FORWARD, f"-i {net.bridge} -o {net.bridge} -j DROP")
        if net.masquerade:
            rules.add("nat", POSTROUTING, f"-s {net.subnet} ! -o {net.bridge} -j MASQUERADE")
    rules.add("filter", ISOLATION_1, "-j RETURN")
    rules.add("filter", ISOLATION_2, "-j RETURN")
    for ep in eps:
        rules.extend(endpoint_rules(by_name[ep.network], ep))
    return rules


def change_text(rules: Rules, verb: str) -> str:
    """iptables-restore text (for --noflush) appending ("-A") or deleting ("-D") `rules`."""
    out: list[str] = []
    for table in ("filter", "nat"):
        lines = rules.lines(table)
        if lines:
            out += [f"*{table}", *(verb + line[2:] for line in lines), "COMMIT"]
    return "\n".join(out) + "\n" if out else ""


def restore_text(rules: Rules, *, add_jumps: Iterable[tuple[str, str, str]] = ()) -> str:
    """iptables-restore text (for --noflush) that replaces the content of ctrnet's chains
    and inserts the jumps `add_jumps` (those of JUMPS missing from the built-in chains)."""
    adding = set(add_jumps)
    out: list[str] = []
    for table, chains in (("filter", FILTER_CHAINS), ("nat", NAT_CHAINS)):
        out.append(f"*{table}")
        out += [f":{chain} - [0:0]" for chain in chains]
        out += rules.lines(table)
        out += [f"-I {chain} 1 {spec}" for t, chain, spec in JUMPS
                if t == table and (t, chain, spec) in adding]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def base_remove_text(present: set[tuple[str, str, str]]) -> str:
    """Text removing the jumps in `present` and then every ctrnet chain (the last network
    is gone). Chains are flushed by naming them before `-X`, which refuses a non-empty one."""
    out: list[str] = []
    for table, chains in (("filter", FILTER_CHAINS), ("nat", NAT_CHAINS)):
        out.append(f"*{table}")
        out += [f":{chain} - [0:0]" for chain in chains]
        out += [f"-D {chain} {spec}" for t, chain, spec in JUMPS if t == table
                and (t, chain, spec) in present]
        out += [f"-X {chain}" for chain in chains]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def jumps_present(save_text: str) -> set[tuple[str, str, str]]:
    """Which of JUMPS an iptables-save text holds."""
    found: set[tuple[str, str, str]] = set()
    table = ""
    for line in save_text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        for jump in JUMPS:
            if jump[0] == table and line.strip() == append_line(jump[1],
                                                                  parse_rule(jump[2], jump[1])):
                found.add(jump)
    return found


def chains_present(save_text: str) -> set[str]:
    """Which of ctrnet's chains an iptables-save text declares."""
    ours = set(FILTER_CHAINS) | set(NAT_CHAINS)
    return {line[1:].split()[0] for line in save_text.splitlines()
            if line.startswith(":") and line[1:].split()[0] in ours}


def ebtables_spoof_rules(ep: EndpointRecord) -> list[list[str]]:
    """ebtables argv appending the endpoint's MAC anti-spoofing rules: a frame entering from
    its port with another source MAC is dropped whether it is bridged (FORWARD) or for the host
    (INPUT). The guide's `ebtables -A FORWARD -i veth0 -s ! MAC -j DROP`."""
    return [["-A", chain, "-i", ep.host_ifname, "-s", "!", ep.mac, "-j", "DROP"]
            for chain in ("FORWARD", "INPUT")]


def ebtables_spoof_text(ep: EndpointRecord, verb: str) -> str:
    """ebtables-restore text appending (`verb` "-A") or deleting ("-D") the endpoint's MAC
    anti-spoofing rules: one process, one nf_tables transaction, both rules or neither."""
    lines = [" ".join([verb, *argv[1:]]) for argv in ebtables_spoof_rules(ep)]
    return "*filter\n" + "\n".join(lines) + "\nCOMMIT\n"
