"""Network tools the simulator does not model, refused loudly.

Without a shim, `ss`, `arp`, `traceroute`… would run for real — on the host, or (as root) in
the run's empty network namespace — and answer with the state of a network that is not the
simulated one, often nothing at all: a silent wrong answer. Each name here gets a shim that
says the tool is not simulated, names what to type instead, and exits 2.
"""

from __future__ import annotations

from ctrnet.backends.sim.cmdline.server import Invocation, Server

#: Exit status of a refused tool (the status of every "not supported" refusal).
STATUS = 2

_IPV6 = "the simulator models IPv4 only"
_LINK_HW = "the simulated links have no hardware, driver or radio"
_NO_WAN = "the simulated world has no route to real hosts or name servers"

#: tool -> (why it cannot be answered, what to use instead or "")
UNSIMULATED: dict[str, tuple[str, str]] = {
    "arp": ("net-tools reads /proc/net/arp of a real namespace", "use `ip neigh`"),
    "arping": ("it sends raw frames on a real interface", "use `ping` and `ip neigh`"),
    "arptables": ("ARP filtering is not modelled", "use `ebtables` or `iptables`"),
    "bpftool": ("eBPF is not modelled", ""),
    "brctl": ("bridge-utils uses the old ioctl interface", "use `ip link` and `bridge`"),
    "ctstat": ("conntrack statistics are not modelled", "use `conntrack -C`"),
    "curl": (_NO_WAN, "use `nc HOST PORT`"),
    "devlink": (_LINK_HW, ""),
    "dhclient": ("DHCP is not modelled", "use `ip addr add`"),
    "dig": (_NO_WAN, ""),
    "ebtables-restore": ("only `ebtables` commands are modelled", "use `ebtables -A …`"),
    "ebtables-save": ("only `ebtables` commands are modelled", "use `ebtables -L`"),
    "ethtool": (_LINK_HW, "use `ip -d link show`"),
    "host": (_NO_WAN, ""),
    "hping3": ("it sends raw packets on a real interface", "use `ping` or `nc`"),
    "ifconfig": ("net-tools uses the old ioctl interface", "use `ip addr` and `ip link`"),
    "ifdown": ("ifupdown reads the real machine's configuration", "use `ip link set DEV down`"),
    "ifup": ("ifupdown reads the real machine's configuration", "use `ip link set DEV up`"),
    "ip6tables": (_IPV6, "use `iptables`"),
    "ip6tables-restore": (_IPV6, "use `iptables-restore`"),
    "ip6tables-save": (_IPV6, "use `iptables-save`"),
    "ipset": ("ipset is not modelled", "use one `iptables` rule per address"),
    "iptables-legacy": ("the simulator answers as iptables-nft (Debian's `iptables`)",
                        "use `iptables`"),
    "iptables-legacy-restore": ("the simulator answers as iptables-nft", "use "
                                "`iptables-restore`"),
    "iptables-legacy-save": ("the simulator answers as iptables-nft", "use `iptables-save`"),
    "iptables-nft": ("it is the same program as `iptables` here", "use `iptables`"),
    "iptables-nft-restore": ("it is the same program as `iptables-restore` here",
                             "use `iptables-restore`"),
    "iptables-nft-save": ("it is the same program as `iptables-save` here",
                          "use `iptables-save`"),
    "iw": (_LINK_HW, ""),
    "lnstat": ("kernel statistics files are not modelled", ""),
    "mii-tool": (_LINK_HW, ""),
    "mtr": ("it sends probes with rising TTLs, which is not modelled", "use `ping`"),
    "ncat": ("only OpenBSD netcat is modelled", "use `nc`"),
    "netstat": ("net-tools reads /proc/net of a real namespace",
                "use `ip route`, `ip neigh` or `conntrack -L`"),
    "networkctl": ("systemd-networkd manages the real machine", "use `ip`"),
    "nft": ("the nftables language is not modelled", "use `iptables` (iptables-nft rules)"),
    "nmap": ("port scans are not modelled", "use `nc -zv HOST PORT`"),
    "nmcli": ("NetworkManager manages the real machine", "use `ip`"),
    "nslookup": (_NO_WAN, ""),
    "nstat": ("kernel SNMP counters are not modelled", "use `iptables -L -v` counters"),
    "ping6": (_IPV6, "use `ping`"),
    "resolvectl": (_NO_WAN, ""),
    "route": ("net-tools uses the old ioctl interface", "use `ip route`"),
    "rtmon": ("netlink monitoring is not modelled", ""),
    "socat": ("only OpenBSD netcat is modelled", "use `nc`"),
    "ss": ("socket tables are not modelled", "use `conntrack -L` to see connections"),
    "ssh": (_NO_WAN, ""),
    "telnet": ("only OpenBSD netcat is modelled", "use `nc HOST PORT`"),
    "tracepath": ("path MTU probing with rising TTLs is not modelled", "use `ping -M do -s SIZE`"),
    "traceroute": ("probes with rising TTLs are not modelled", "use `ip route get ADDR` per hop"),
    "traceroute6": (_IPV6, ""),
    "tshark": ("live capture is modelled by `tcpdump` only", "use `tcpdump`"),
    "udhcpc": ("DHCP is not modelled", "use `ip addr add`"),
    "wget": (_NO_WAN, "use `nc HOST PORT`"),
}


def message(tool: str) -> str:
    """The one line a refused tool prints."""
    reason, instead = UNSIMULATED[tool]
    return (f"ctrnet sim: {tool} is not simulated ({reason})"
            + (f"; {instead}" if instead else "") + "\n")


def refuse(server: Server, inv: Invocation) -> int:
    """The tool of every name in UNSIMULATED: one line on stderr, exit 2, nothing run."""
    del server  # nothing to look at: the answer does not depend on the world
    inv.stderr.write(message(inv.tool))
    return STATUS
