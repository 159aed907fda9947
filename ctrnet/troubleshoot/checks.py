"""The doctor's checks, one function each, in the order a packet meets the problems: the
container's own namespace (lo, its interface, routes, resolv.conf), the veth and bridge,
then the host's forwarding, filtering and NAT. Each explains in a sentence and names the
command that fixes it, typed from the user's shell (`Doctor.cmd` names the real namespace).

Filtering and NAT are judged by walking stand-in packets through the host's own rules
(`ctrnet.netfilter.evaluate`, what the simulator runs), not by reading rule text: a rule
that jumps, negates or matches on state counts exactly as the kernel would count it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from ctrnet.backend import Backend
from ctrnet.errors import CtrnetError
from ctrnet.i18n import say
from ctrnet.troubleshoot.doctor import Container, Doctor, Net, Report, Severity, discover
from ctrnet.troubleshoot.filtering import Verdicts, forward_verdicts, nat_applies
from ctrnet.types import Address, LinkKind, PortState

ERROR, WARNING = Severity.ERROR, Severity.WARNING
BR_NF_KEY = "net.bridge.bridge-nf-call-iptables"


def check_lo_down(doc: Doctor) -> None:
    for _, c in doc.containers():
        lo = doc.link(c.ns, "lo")
        if lo is not None and not lo.up:
            doc.find("lo-down", WARNING, f"{c.ns} lo",
                     say("the loopback device is down: programs in the container cannot "
                         "reach 127.0.0.1, nor their own addresses",
                         "ループバックが down: コンテナ内のプログラムは 127.0.0.1 にも自分の"
                         "アドレスにも届かない"),
                     doc.cmd(c.ns, "ip link set lo up"))


def check_veth(doc: Doctor) -> None:
    """The container's interface: in the right namespace, up, its peer on the bridge."""
    for net, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        if here is None:
            elsewhere = _holder(doc, c.ifname, skip=c.ns)
            if elsewhere is not None:
                doc.find("veth-wrong-namespace", ERROR, f"{c.ns} {c.ifname}",
                         say(f"{c.ifname} is in namespace {elsewhere}, not in {c.ns}: "
                             f"commands run in {c.ns} do not see it",
                             f"{c.ifname} は名前空間 {c.ns} ではなく {elsewhere} にある: "
                             f"{c.ns} で実行したコマンドからは見えない"),
                         doc.cmd(elsewhere,
                                 f"ip link set {c.ifname} netns {doc.netns_target(c.ns)}"))
            else:
                doc.find("veth-missing", ERROR, f"{c.ns} {c.ifname}",
                         say(f"{c.ifname} does not exist in {c.ns} (nor anywhere else)",
                             f"{c.ifname} が {c.ns} にない（ほかの名前空間にもない）"),
                         f"ctrnet connect {net.name if net else 'NETWORK'} {c.ns}")
            continue
        if not here.up:
            doc.find("veth-down", ERROR, f"{c.ns} {c.ifname}",
                     say(f"{c.ifname} is down: the container sends and receives nothing",
                         f"{c.ifname} が down: コンテナは何も送受信できない"),
                     doc.cmd(c.ns, f"ip link set {c.ifname} up"))
        if here.kind is LinkKind.VETH and here.peer_ns == c.ns:
            doc.find("veth-wrong-namespace", ERROR, f"{c.ns} {c.ifname}",
                     say(f"both ends of the veth pair ({c.ifname}, {here.peer}) are in "
                         f"{c.ns}: the host end was never moved to the host",
                         f"veth ペアの両端（{c.ifname}, {here.peer}）が {c.ns} にある: "
                         "ホスト側の端がホストに移されていない"),
                     doc.cmd(c.ns, f"ip link set {here.peer} netns {doc.netns_target(doc.host)}"))
        host_end = c.host_ifname or (here.peer if here.peer_ns == doc.host else None)
        if host_end is None:
            continue
        peer = doc.link(doc.host, host_end)
        if peer is None:
            holder = _holder(doc, host_end, skip=doc.host)
            if holder is not None and holder != c.ns:
                doc.find("veth-wrong-namespace", ERROR, f"{doc.host} {host_end}",
                         say(f"the host end {host_end} is in namespace {holder}, not in "
                             f"{doc.host}",
                             f"ホスト側の端 {host_end} が {doc.host} ではなく {holder} にある"),
                         doc.cmd(holder,
                                 f"ip link set {host_end} netns {doc.netns_target(doc.host)}"))
            continue
        if not peer.up:
            doc.find("veth-down", ERROR, f"{doc.host} {host_end}",
                     say(f"the host end {host_end} of {c.ns}'s veth is down: nothing "
                         "crosses it",
                         f"{c.ns} の veth のホスト側 {host_end} が down: 何も通らない"),
                     doc.cmd(doc.host, f"ip link set {host_end} up"))
        if net is not None and peer.master != net.bridge:
            now = (say(f"enslaved to {peer.master}", f"{peer.master} に接続されている")
                   if peer.master else say("not enslaved to any bridge",
                                           "どのブリッジにも接続されていない"))
            doc.find("veth-not-enslaved", ERROR, f"{doc.host} {host_end}",
                     say(f"{host_end} is {now}: {c.ns}'s frames never reach bridge "
                         f"{net.bridge}",
                         f"{host_end} は{now}: {c.ns} のフレームはブリッジ {net.bridge} に"
                         "届かない"),
                     doc.cmd(doc.host, f"ip link set {host_end} master {net.bridge}"))


def check_addressing(doc: Doctor) -> None:
    """The container's address, and a default route whose gateway is on its segment."""
    for net, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        if here is None or not here.up:
            continue
        try:
            addrs = doc.backend.addr_list(c.ns, c.ifname)
            routes = doc.backend.route_list(c.ns)
        except CtrnetError:
            continue
        if not addrs:
            want = c.ip or "ADDRESS"
            plen = ipaddress.IPv4Network(net.subnet).prefixlen if net and net.subnet else 24
            doc.find("no-address", ERROR, f"{c.ns} {c.ifname}",
                     say(f"{c.ifname} has no IPv4 address: the container cannot send IP "
                         "at all",
                         f"{c.ifname} に IPv4 アドレスがない: コンテナは IP を送れない"),
                     doc.cmd(c.ns, f"ip addr add {want}/{plen} dev {c.ifname}"))
            continue
        gateway = _gateway(doc, net)
        if net is None or gateway is None:
            continue
        for route in routes:
            if route.dst == "default" and route.gateway and route.gateway != gateway:
                doc.find("wrong-gateway", ERROR, c.ns,
                         say(f"the default route goes via {route.gateway}, but {net.name}'s "
                             f"gateway (the bridge's address) is {gateway}: packets for "
                             "other networks go to a neighbour that does not route them",
                             f"デフォルトルートが {route.gateway} 経由だが、{net.name} の"
                             f"ゲートウェイ（ブリッジのアドレス）は {gateway}: 外向きの"
                             "パケットがルーティングしない相手に送られる"),
                         doc.cmd(c.ns, f"ip route replace default via {gateway}"))


def _gateway(doc: Doctor, net: Net | None) -> str | None:
    """The gateway the network's containers should use: its recorded gateway, else the
    bridge's address."""
    if net is None:
        return None
    return net.gateway or None


def check_mtu(doc: Doctor) -> None:
    """Both ends of a veth need the same MTU: the larger side's big packets are dropped."""
    for _, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        peer = doc.link(doc.host, c.host_ifname) if c.host_ifname else None
        if here is not None and peer is not None and here.mtu != peer.mtu:
            low = min(here.mtu, peer.mtu)
            doc.find("mtu-mismatch", WARNING, f"{c.ns} {c.ifname}",
                     say(f"MTU {here.mtu} in {c.ns} but {peer.mtu} on the host end "
                         f"{c.host_ifname}: packets larger than {low} bytes are dropped on "
                         "the way in, and only those: small pings work, bulk transfers stall",
                         f"MTU が {c.ns} では {here.mtu}、ホスト側 {c.host_ifname} では "
                         f"{peer.mtu}: {low} バイトを超えるパケットだけが落ちる（小さい ping "
                         "は通り、大きな転送が止まる）"),
                     doc.cmd(c.ns, f"ip link set {c.ifname} mtu {low}")
                     if here.mtu > low
                     else doc.cmd(doc.host, f"ip link set {c.host_ifname} mtu {low}"))


def _holder(doc: Doctor, ifname: str, skip: str) -> str | None:
    for ns in [doc.host, *doc.backend.netns_list()]:
        if ns != skip and doc.link(ns, ifname) is not None:
            return ns
    return None


def check_default_route(doc: Doctor) -> None:
    for net, c in doc.containers():
        here = doc.link(c.ns, c.ifname)
        if here is None or not here.up:
            continue  # its routes went with it: the interface is the problem to report
        try:
            routes = doc.backend.route_list(c.ns)
        except CtrnetError:
            continue
        if any(r.dst == "default" for r in routes):
            continue
        gateway = _gateway(doc, net) or "GATEWAY"
        doc.find("no-default-route", WARNING, c.ns,
                 say("no default route: the container reaches its own subnet only, nothing "
                     "beyond the bridge",
                     "デフォルトルートがない: コンテナは自分のサブネットにしか届かない"),
                 doc.cmd(c.ns, f"ip route add default via {gateway}"))


def _nameservers(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append(words[1])
    return found


def _loopback(server: str) -> bool:
    try:
        return ipaddress.ip_address(server).is_loopback
    except ValueError:
        return False


def check_resolv_conf(doc: Doctor) -> None:
    """Name resolution in the container. Without /etc/netns/NS/resolv.conf, `ip netns exec`
    keeps the host's file, which works unless its servers are loopback addresses (a local
    cache such as systemd-resolved's 127.0.0.53): in the container, 127.0.0.53 is the
    container's own loopback, where nothing listens. So a missing file is a problem only
    then; a file without a usable nameserver always is."""
    fallback: list[str] | None = None
    for _, c in doc.containers():
        kept, text = doc.etc_file(c.ns, "resolv.conf")
        if not kept:
            continue
        if text is None:
            if fallback is None:
                fallback = _nameservers(doc.host_resolv_conf() or "")
            if fallback and all(_loopback(s) for s in fallback):
                doc.find("resolv-conf-missing", WARNING, c.ns,
                         say(f"no /etc/netns/{c.ns}/resolv.conf, so the container uses the "
                             f"host's, whose nameserver {fallback[0]} is a loopback address: "
                             "in the container that is its own loopback, and names do not "
                             "resolve",
                             f"/etc/netns/{c.ns}/resolv.conf がなくホストのものが使われるが、"
                             f"その nameserver {fallback[0]} はループバック: コンテナ内では"
                             "自分自身を指し、名前が解決できない"),
                         _resolv_fix(doc, c))
            continue
        servers = _nameservers(text)
        if not servers or all(_loopback(s) for s in servers):
            what = (say("has no nameserver line", "に nameserver 行がない") if not servers
                    else say(f"names only loopback nameservers ({servers[0]}), which in the "
                             "container are its own loopback",
                             f"の nameserver がループバック（{servers[0]}）だけで、コンテナ内"
                             "では自分自身を指す"))
            doc.find("resolv-conf-no-nameserver", WARNING, c.ns,
                     say(f"/etc/netns/{c.ns}/resolv.conf {what}: names do not resolve in "
                         "the container",
                         f"/etc/netns/{c.ns}/resolv.conf {what}: コンテナ内で名前が解決"
                         "できない"), _resolv_fix(doc, c))


def _resolv_fix(doc: Doctor, c: Container) -> str:
    real = doc.ns_name(c.ns)
    return (f"mkdir -p /etc/netns/{real} && echo 'nameserver 198.51.100.53' > "
            f"/etc/netns/{real}/resolv.conf  "
            + say("(your resolver's address)", "（使うリゾルバのアドレスに）"))


def check_bridge(doc: Doctor) -> None:
    for net in doc.nets:
        br = doc.link(doc.host, net.bridge)
        if br is None:
            doc.find("bridge-missing", ERROR, net.bridge,
                     say(f"bridge {net.bridge} of network {net.name} does not exist",
                         f"ネットワーク {net.name} のブリッジ {net.bridge} が存在しない"),
                     doc.cmd(doc.host, f"ip link add {net.bridge} type bridge"))
            continue
        if not br.up:
            doc.find("bridge-down", ERROR, f"{doc.host} {net.bridge}",
                     say(f"bridge {net.bridge} is down: it forwards nothing and its address "
                         "(the containers' gateway) is unreachable",
                         f"ブリッジ {net.bridge} が down: 何も転送せず、そのアドレス（コンテナ"
                         "のゲートウェイ）にも届かない"),
                     doc.cmd(doc.host, f"ip link set {net.bridge} up"))
        waiting = [lk for lk in doc.links(doc.host) if lk.master == net.bridge
                   and lk.port is not None and lk.port.state in (PortState.LISTENING,
                                                                 PortState.LEARNING)]
        if not waiting or br.bridge is None:
            continue
        names = ", ".join(f"{lk.name} ({lk.port.state.name})" for lk in waiting
                          if lk.port is not None)
        # Turning STP off leaves a waiting port where it is (seen on 6.1 and in the
        # simulator alike); taking the port down and up again makes it forward at once.
        restart = [doc.cmd(doc.host, f"ip link set {lk.name} {state}")
                   for lk in waiting for state in ("down", "up")]
        if not br.bridge.stp_state:
            doc.find("ports-not-forwarding", ERROR, f"{doc.host} {net.bridge}",
                     say(f"STP is off but ports are still waiting: {names}; they forward "
                         "nothing until they are restarted",
                         f"STP は無効だが、待機中のままのポートがある: {names}。再起動するまで"
                         "何も転送しない"),
                     " && ".join(restart))
            continue
        if waiting:
            delay = br.bridge.forward_delay
            doc.find("stp-ports-not-forwarding", WARNING, f"{doc.host} {net.bridge}",
                     say(f"STP is on and ports are not forwarding yet: {names}; a port waits "
                         f"2 x forward_delay ({2 * delay:g} s) in listening and learning "
                         "first",
                         f"STP が有効で、まだ転送していないポートがある: {names}。ポートは "
                         f"listening と learning で forward_delay の 2 倍（{2 * delay:g} 秒）"
                         "待つ"),
                     " && ".join([doc.cmd(doc.host,
                                          f"ip link set {net.bridge} type bridge stp_state 0"),
                                  *restart]))


def check_bridge_address(doc: Doctor) -> None:
    """The bridge holds the gateway address its containers route through: without it the
    default route's next hop answers no ARP and nothing leaves the subnet."""
    for net in doc.nets:
        br = doc.link(doc.host, net.bridge)
        if br is None or not net.containers:
            continue
        try:
            held = {a.ip for a in doc.backend.addr_list(doc.host, net.bridge)}
        except CtrnetError:
            continue
        wanted = net.gateway or _routed_gateway(doc, net)
        if wanted is None or wanted in held:
            continue
        plen = _container_prefixlen(doc, net) or (
            ipaddress.IPv4Network(net.subnet).prefixlen if net.subnet else 24)
        doc.find("bridge-no-gateway-address", ERROR, f"{doc.host} {net.bridge}",
                 say(f"bridge {net.bridge} does not hold {wanted}, the gateway its containers "
                     "route through: nobody answers ARP for it, so nothing leaves the subnet "
                     "and the host is unreachable from the containers",
                     f"ブリッジ {net.bridge} がコンテナのゲートウェイ {wanted} を持っていない: "
                     "その ARP に誰も答えず、サブネットの外にもホストにも届かない"),
                 doc.cmd(doc.host, f"ip addr add {wanted}/{plen} dev {net.bridge}"))


def _routed_gateway(doc: Doctor, net: Net) -> str | None:
    """The gateway of the containers' default routes, when they agree on one."""
    seen = set()
    for c in net.containers:
        try:
            seen |= {r.gateway for r in doc.backend.route_list(c.ns)
                     if r.dst == "default" and r.gateway}
        except CtrnetError:
            continue
    return seen.pop() if len(seen) == 1 else None


def _first_address(doc: Doctor, net: Net) -> Address | None:
    """The first address found on one of the network's containers (namespaces that cannot
    be read are passed over)."""
    for c in net.containers:
        try:
            addrs = doc.backend.addr_list(c.ns, c.ifname)
        except CtrnetError:
            continue
        if addrs:
            return addrs[0]
    return None


def _container_prefixlen(doc: Doctor, net: Net) -> int | None:
    address = _first_address(doc, net)
    return address.prefixlen if address else None


def check_address_conflict(doc: Doctor) -> None:
    """The same address twice on one bridge's segment: ARP answers from both. The fix takes
    it from the holder that is not its rightful owner: the bridge owns the gateway, a
    container the address ctrnet recorded for it; otherwise the interface on which it is a
    secondary address (added after the one it already had) is the intruder."""
    for net in doc.nets:
        holders: dict[str, list[tuple[str, str, int, bool]]] = {}
        members = [(doc.host, net.bridge, net.gateway)] + [
            (c.ns, c.ifname, c.ip) for c in net.containers]
        owners: dict[str, str] = {}
        for ns, ifname, recorded in members:
            if recorded:
                owners[recorded] = f"{ns}/{ifname}"
            try:
                addrs = doc.backend.addr_list(ns, ifname)
            except CtrnetError:
                continue
            for index, addr in enumerate(addrs):
                holders.setdefault(addr.ip, []).append((ns, ifname, addr.prefixlen,
                                                        index == 0))
        for ip, where in holders.items():
            if len(where) < 2:
                continue
            names = [f"{ns}/{ifname}" for ns, ifname, _, _ in where]
            owner = owners.get(ip)
            if owner is None:
                primaries = [f"{ns}/{ifname}" for ns, ifname, _, first in where if first]
                owner = primaries[0] if len(primaries) == 1 else None
            intruders = [w for w in where if f"{w[0]}/{w[1]}" != owner]
            if owner is None or not intruders:
                fix = say(f"decide which of {', '.join(names)} keeps {ip}; remove it from "
                          "the other(s) with ip addr del",
                          f"{', '.join(names)} のどれが {ip} を持つか決め、ほかからは "
                          "ip addr del で外す")
            else:
                fix = "; ".join(doc.cmd(ns, f"ip addr del {ip}/{plen} dev {ifname}")
                                for ns, ifname, plen, _ in intruders)
            doc.find("address-conflict", ERROR, net.bridge,
                     say(f"{ip} is held by {' and '.join(names)} on the same bridge: ARP "
                         "answers from both and traffic goes to either",
                         f"{ip} を同じブリッジ上の {'と'.join(names)} が持っている: ARP に"
                         "両方が答え、通信がどちらかに行く"), fix)


def check_ip_forward(doc: Doctor) -> None:
    if not any(net.containers for net in doc.nets):
        return
    if doc.sysctl(doc.host, "net.ipv4.ip_forward") == "0":
        doc.find("ip-forward-off", ERROR, doc.host,
                 say("net.ipv4.ip_forward is 0: the host does not route, so containers reach "
                     "the bridge's address but nothing beyond it",
                     "net.ipv4.ip_forward が 0: ホストがルーティングしないので、コンテナは"
                     "ブリッジのアドレスまでしか届かない"),
                 doc.cmd(doc.host, "sysctl -w net.ipv4.ip_forward=1"))


def check_br_netfilter(doc: Doctor) -> None:
    """Rules meant for traffic between one bridge's containers (isolation, -i BR -o BR)
    see it only when br_netfilter passes bridged frames to iptables: the module must be
    loaded (its sysctls exist only then) and bridge-nf-call-iptables be 1."""
    for net in doc.nets:
        if len(net.containers) < 2 or not _filters_bridged(doc, net):
            continue
        value = doc.sysctl(doc.host, BR_NF_KEY, default="")
        if value == "1":
            continue
        if value == "":
            problem = say("br_netfilter is not loaded: iptables never sees the traffic "
                          f"between {net.bridge}'s containers, so the FORWARD rules written "
                          "for it (isolation, port filters) do nothing",
                          "br_netfilter が読み込まれていない: "
                          f"{net.bridge} のコンテナ間の通信は iptables を通らず、そのための "
                          "FORWARD のルール（分離・ポート制限）が効かない")
            fix = "modprobe br_netfilter"
        else:
            problem = say(f"{BR_NF_KEY} is 0: iptables never sees the traffic between "
                          f"{net.bridge}'s containers, so the FORWARD rules written for it "
                          "do nothing",
                          f"{BR_NF_KEY} が 0: {net.bridge} のコンテナ間の通信は iptables を"
                          "通らず、そのための FORWARD のルールが効かない")
            fix = doc.cmd(doc.host, f"sysctl -w {BR_NF_KEY}=1")
        doc.find("br-netfilter-off", WARNING, f"{doc.host} {net.bridge}", problem, fix)


def _filters_bridged(doc: Doctor, net: Net) -> bool:
    """Whether FORWARD has rules that only make sense for bridged traffic of `net`: a known
    isolation (icc off), or a rule with both -i and -o the bridge, or a physdev match."""
    if net.icc is False:
        return True
    for rule in doc.rules("filter").reachable("FORWARD"):
        if rule.option("-i") == net.bridge and rule.option("-o") == net.bridge:
            return True
        if "physdev" in rule.args:
            return True
    return False


def check_forward(doc: Doctor) -> None:
    """Each network's traffic through the host's FORWARD chain: a container's packet out
    (bridge to uplink), the reply back in, and — with br_netfilter on — a frame between two
    of its containers. Dropped by the policy: the fix appends the ACCEPT that lets it
    through. Dropped by a rule: that rule is named (it may be meant)."""
    verdicts = forward_verdicts(doc)
    for net, verdict in verdicts:
        _report_forward(doc, net, verdict)


def _report_forward(doc: Doctor, net: Net, v: Verdicts) -> None:
    flows = [("outbound", v.outbound, f"-i {net.bridge} ! -o {net.bridge} -j ACCEPT",
              say(f"packets from {net.name}'s containers to the outside",
                  f"{net.name} のコンテナから外へのパケット")),
             ("replies", v.replies, f"-o {net.bridge} -m conntrack --ctstate "
              "RELATED,ESTABLISHED -j ACCEPT",
              say("the replies coming back to them", "外からコンテナへの返信")),
             ("bridged", v.bridged, f"-i {net.bridge} -o {net.bridge} -j ACCEPT",
              say(f"frames between {net.name}'s containers (br_netfilter passes them through "
                  "FORWARD)", f"{net.name} のコンテナ間のフレーム（br_netfilter により "
                  "FORWARD を通る）"))]
    policy_fixes = []
    what_policy = []
    for _, decided, accept, what in flows:
        if decided is None or decided.accepted:
            continue
        if decided.rule is None:
            policy_fixes.append(doc.cmd(doc.host, f"iptables -A FORWARD {accept}"))
            what_policy.append(what)
        else:
            doc.find("forward-rule-drops", WARNING, f"{doc.host} filter {decided.chain}",
                     say(f"rule {decided.rule} of {decided.chain} ({decided.text}) drops "
                         f"{what}; if that is not what you meant, delete it",
                         f"{decided.chain} のルール {decided.rule}（{decided.text}）が{what}を"
                         "落としている。意図したものでなければ削除する"),
                     doc.cmd(doc.host, f"iptables -D {decided.chain} {decided.rule}"))
    if policy_fixes:
        doc.find("forward-drop", ERROR, f"{doc.host} {net.bridge}",
                 say(f"the FORWARD policy is {v.policy} and no rule accepts "
                     + "; nor ".join(what_policy),
                     f"FORWARD のポリシーが {v.policy} で、次を許可するルールがない: "
                     + "、".join(what_policy)),
                 " && ".join(policy_fixes))


def check_masquerade(doc: Doctor) -> None:
    """A container's packet to the outside leaves with the host's address (MASQUERADE or
    SNAT in nat POSTROUTING), else the replies never find their way back."""
    uplink = doc.uplink()
    for net in doc.nets:
        subnet = net.subnet or _container_subnet(doc, net)
        if subnet is None or net.masquerade is False or not net.containers:
            continue
        source = next((c.ip for c in net.containers if c.ip), None) or _first_ip(doc, net)
        if source is None:
            continue
        applied = nat_applies(doc, source, net.bridge, uplink)
        if applied is None or applied:
            continue
        fix = doc.cmd(doc.host, f"iptables -t nat -A POSTROUTING -s {subnet} "
                                f"! -o {net.bridge} -j MASQUERADE")
        severity = ERROR if uplink is not None or net.masquerade else WARNING
        doc.find("masquerade-missing", severity, f"{doc.host} nat POSTROUTING",
                 say(f"no MASQUERADE (or SNAT) applies to {net.name}'s subnet {subnet}: its "
                     "packets leave with private source addresses and the replies never "
                     "find their way back",
                     f"{net.name} のサブネット {subnet} に MASQUERADE（SNAT）が効いていない: "
                     "プライベートな送信元のまま外に出て、返信が戻ってこない"), fix)


def _container_subnet(doc: Doctor, net: Net) -> str | None:
    address = _first_address(doc, net)
    return str(ipaddress.IPv4Interface(address.cidr).network) if address else None


def _first_ip(doc: Doctor, net: Net) -> str | None:
    address = _first_address(doc, net)
    return address.ip if address else None


ALL: tuple[Callable[[Doctor], None], ...] = (
    check_lo_down, check_veth, check_addressing, check_mtu, check_default_route,
    check_resolv_conf, check_bridge, check_bridge_address,
    check_address_conflict, check_ip_forward, check_br_netfilter, check_forward,
    check_masquerade,
)


def diagnose(backend: Backend, nets: Iterable[Net] | None = None, *,
             scope: str = "all networks",
             containers: Iterable[Container] = ()) -> Report:
    """Check `nets` (default: what `discover` finds) and the extra `containers`."""
    found = discover(backend) if nets is None else list(nets)
    return Doctor(backend, found, scope, containers).run(ALL)
