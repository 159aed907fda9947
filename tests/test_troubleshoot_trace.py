"""Reading the kernel's TRACE output (xtables-monitor --trace, iptables-nft 1.8.9 on 6.18)
into hops, and the trace types' views of them."""

from __future__ import annotations

from ctrnet.backends.kernel.trace import handles, packet_hops, parse, split
from ctrnet.troubleshoot.trace import ChainVerdict, Direction, Hop, PacketTrace, Step

#: Recorded in a namespace whose INPUT rejects TCP port 81 (two lines of one SYN, the ICMP
#: error that REJECT sent in between, as the kernel reports them).
MONITOR = """\
PACKET: 2 e970813d IN=vb MACSRC=ce:7c:e:52:2b:be MACDST=36:56:df:69:3b:be MACPROTO=0800 \
SRC=10.99.0.1 DST=10.99.0.2 LEN=60 TOS=0x0 TTL=64 ID=55394 DF SPORT=53212 DPORT=81 SYN
 TRACE: 2 e970813d raw:PREROUTING:rule:0x2:CONTINUE  -4 -t raw -A PREROUTING -p tcp -j TRACE
 TRACE: 2 e970813d raw:PREROUTING:policy:ACCEPT
PACKET: 2 e970813d IN=vb MACSRC=ce:7c:e:52:2b:be MACDST=36:56:df:69:3b:be MACPROTO=0800 \
SRC=10.99.0.1 DST=10.99.0.2 LEN=60 TOS=0x0 TTL=64 ID=55394 DF SPORT=53212 DPORT=81 SYN
 TRACE: 2 e970813d nat:PREROUTING:policy:ACCEPT
PACKET: 2 255ad885 OUT=vb SRC=10.99.0.2 DST=10.99.0.1 LEN=88 TOS=0xc0 TTL=64 ID=21184
 TRACE: 2 255ad885 raw:OUTPUT:rule:0x4:CONTINUE  -4 -t raw -A OUTPUT -p icmp -j TRACE
 TRACE: 2 255ad885 raw:OUTPUT:policy:ACCEPT
PACKET: 2 e970813d IN=vb MACSRC=ce:7c:e:52:2b:be MACDST=36:56:df:69:3b:be MACPROTO=0800 \
SRC=10.99.0.1 DST=10.99.0.2 LEN=60 TOS=0x0 TTL=64 ID=55394 DF SPORT=53212 DPORT=81 SYN
 TRACE: 2 e970813d filter:INPUT:rule:0x3:DROP  -4 -t filter -A INPUT -s 10.99.0.1/32 -p tcp \
-m tcp --dport 81 -j REJECT --reject-with icmp-port-unreachable
""".splitlines()

SAVED = """\
*filter
:INPUT ACCEPT [0:0]
-A INPUT -p icmp -j ACCEPT
-A INPUT -s 10.99.0.1/32 -p tcp -m tcp --dport 81 -j REJECT --reject-with icmp-port-unreachable
COMMIT
"""


def test_the_first_packet_is_the_request_and_one_from_elsewhere_its_reply() -> None:
    request, reply = split(parse(MONITOR))
    assert request is not None and request.first["DPORT"] == "81"
    assert reply is not None and reply.first["SRC"] == "10.99.0.2"


def test_rule_handles_become_rule_numbers_and_our_trace_rules_are_left_out() -> None:
    request, _ = split(parse(MONITOR))
    assert request is not None
    hops = packet_hops("b", request, Direction.REQUEST, SAVED)
    chains = [(h.table, h.chain, h.rule, h.verdict) for h in hops if h.step is Step.NETFILTER]
    assert chains == [("nat", "PREROUTING", None, "ACCEPT"), ("filter", "INPUT", 2, "DROP")]
    assert hops[0].step is Step.RECEIVE and hops[0].dev == "vb"
    assert hops[-1].step is Step.DROP


def test_a_packet_handed_on_in_another_skb_stays_one_packet() -> None:
    lines = [
        "PACKET: 2 aaaa0001 IN=br0 SRC=172.20.0.2 DST=198.51.100.2 LEN=84 TTL=64 ID=46918 DF",
        " TRACE: 2 aaaa0001 raw:PREROUTING:policy:ACCEPT",
        "PACKET: 2 bbbb0002 IN=br0 OUT=uplink SRC=172.20.0.2 DST=198.51.100.2 LEN=84 TTL=63 "
        "ID=46918 DF",
        " TRACE: 2 bbbb0002 filter:FORWARD:policy:DROP",
    ]
    (packet,) = parse(lines)
    hops = packet_hops("host", packet, Direction.REQUEST, "")
    assert [h.verdict for h in hops if h.step is Step.NETFILTER] == ["DROP"]


def test_decisive_leaves_out_chains_that_accept_by_policy() -> None:
    hop = Hop(Direction.REQUEST, "host", Step.NETFILTER, "x", table="filter", chain="FORWARD",
              verdict="ACCEPT")
    drop = Hop(Direction.REQUEST, "host", Step.NETFILTER, "y", table="filter", chain="INPUT",
               rule=3, verdict="DROP")
    trace = PacketTrace("c1", "10.0.0.1", "icmp", None, "timeout", (hop, drop))
    assert trace.decisive() == [ChainVerdict(Direction.REQUEST, "host", "filter", "INPUT", 3,
                                             "DROP")]
    assert len(trace.chains()) == 2
    assert "host filter:INPUT rule 3 DROP" in str(trace.decisive()[0])
    assert trace.render().splitlines()[0] == "trace icmp from c1 to 10.0.0.1: timeout"


NFT_LISTING = """\
table ip nat { # handle 1
	chain PREROUTING { # handle 1
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 80 counter packets 0 bytes 0 dnat to 10.0.0.2:8080 # handle 2
		tcp dport 81 counter packets 0 bytes 0 accept # handle 3
	}
}"""


def test_without_rule_text_the_handle_gives_the_number() -> None:
    lines = ["PACKET: 2 0000aaaa IN=eth0 SRC=10.0.0.1 DST=10.0.0.9 LEN=60 ID=7 SPORT=1 DPORT=81",
             " TRACE: 2 0000aaaa nat:PREROUTING:rule:0x3:ACCEPT"]
    (packet,) = parse(lines)
    hops = packet_hops("host", packet, Direction.REQUEST, "", handles(NFT_LISTING))
    assert [(h.chain, h.rule) for h in hops if h.step is Step.NETFILTER] == [("PREROUTING", 2)]


def test_a_monitor_line_without_addresses_never_shows_python_none() -> None:
    # A bridge-family or ARP packet line has MACs, no SRC/DST; a rule the saved table does
    # not list has no number: neither may come out as "None".
    lines = ["PACKET: 7 0000beef IN=vb MACSRC=ce:7c:e:52:2b:be MACDST=ff:ff:ff:ff:ff:ff "
             "MACPROTO=0806",
             " TRACE: 7 0000beef filter:FORWARD:rule:0x9:DROP  -4 -t filter -A FORWARD "
             "-m physdev --physdev-in vb -j DROP"]
    [packet] = parse(lines)
    hops = packet_hops("host", packet, Direction.REQUEST, "")
    text = PacketTrace("host", "10.0.0.1", "icmp", None, "timeout", tuple(hops)).render()
    assert "None" not in text
    assert "ce:7c:e:52:2b:be > ff:ff:ff:ff:ff:ff" in text
    assert "filter:FORWARD a rule matched: DROP" in text


def test_a_bridge_family_line_between_two_ip_lines_is_not_a_nat_rewrite() -> None:
    ip_line = ("PACKET: 2 0000abcd IN=br0 SRC=10.77.0.2 DST=10.77.0.3 LEN=60 TTL=64 ID=7 "
               "SPORT=52500 DPORT=80 SYN")
    lines = [ip_line, "PACKET: 2 0000abcd IN=br0 MACSRC=2:42:a:4d:0:2 MACDST=2:42:a:4d:0:3 "
             "MACPROTO=0800", ip_line]
    [packet] = parse(lines)
    hops = packet_hops("host", packet, Direction.REQUEST, "")
    assert [h.step for h in hops] == [Step.RECEIVE]
