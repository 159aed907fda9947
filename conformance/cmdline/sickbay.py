"""The sickbay: the divergences between the simulator and the kernel that are known and, for
now, accepted. Everything the generated differential tests (test_generated.py) find that is
not here fails the run.

Each entry names the tool, a pattern of the first invocation that diverges (a regular
expression searched in its command line, `$ TOOL ARGS…`), the reason the divergence is
accepted, and the test that pins it: a test that fails the day the divergence is gone (so
the entry is removed) or changes. An entry is a debt: the simulator's side of `ctrnet.cmdline`
and `backends/sim` closes them (issue 10, item 5), and removes the entry in the same commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Divergence:
    """One accepted divergence."""

    #: A short id (the pinning test's parameter).
    name: str
    tool: str
    #: Searched in the first diverging invocation's line (`$ ip -d link show br0`).
    pattern: str
    reason: str
    #: The test id that pins it (pytest node id, relative to ctrnet.conformance).
    pinned_by: str
    #: Only when the simulator's side refused loudly ("ctrnet sim: …") — never a silent
    #: different answer.
    refusal_only: bool = False
    #: A minimal script that shows it (run by the pinning test); "" for the generic entry.
    script: str = ""

    def matches(self, command_line: str, sim_refused: bool) -> bool:
        if self.refusal_only and not sim_refused:
            return False
        return re.search(self.pattern, command_line) is not None


def _pinned(name: str) -> str:
    return f"cmdline/test_compare.py::test_sickbay_entry_still_diverges[{name}]"


#: The accepted divergences. Keep each one small: a broad pattern hides new gaps.
SICKBAY: tuple[Divergence, ...] = (
    Divergence(
        name="loud-refusal",
        tool="*",
        pattern=r".",
        reason="a tool or option the simulator does not model is refused loudly on its side "
               "(`ctrnet sim: …`, non-zero exit) while the kernel answers: never a silent "
               "answer; counted apart as 'refused' in docs/fidelity.md",
        pinned_by="cmdline/test_compare.py::test_a_script_the_simulator_refuses_is_reported",
        refusal_only=True,
    ),
    Divergence(
        name="icmp-redirect",
        tool="ping",
        pattern=r"ping -c 1 -W 1 10\.6\.0\.3$",
        reason="a router that forwards a packet back out the device it came in by, to a "
               "sender on that link, sends it an ICMP redirect (send_redirects 1, the "
               "default): ping prints 'From 10.5.0.1: icmp_seq=1 Redirect Host(New nexthop: "
               "10.6.0.3)' and the sender's route gets a '<redirected>' exception; the "
               "simulator does not model redirects and refuses loudly where the kernel would "
               "send one (docs/fidelity.md, 'ICMP redirects')",
        pinned_by=_pinned("icmp-redirect"),
        refusal_only=True,
        script=(
            "ip netns add r\nip netns add a\nip netns add b\n"
            "ip -n r link add br0 type bridge\nip -n r link set br0 up\n"
            "ip -n r addr add 10.5.0.1/24 dev br0\nip -n r addr add 10.6.0.1/24 dev br0\n"
            "ip -n r link add ra type veth peer name eth0 netns a\n"
            "ip -n r link add rb type veth peer name eth0 netns b\n"
            "ip -n r link set ra master br0\nip -n r link set rb master br0\n"
            "ip -n r link set ra up\nip -n r link set rb up\n"
            "ip -n a addr add 10.5.0.2/24 dev eth0\nip -n a link set eth0 up\n"
            "ip -n b addr add 10.6.0.3/24 dev eth0\nip -n b link set eth0 up\n"
            "ip -n b route add 10.5.0.0/24 dev eth0\n"
            "ip -n a route add 10.6.0.0/24 via 10.5.0.1\n"
            "ip netns exec r sysctl -qw net.ipv4.ip_forward=1\nsleep 1\n"
            "ip netns exec a ping -c 1 -W 1 10.6.0.3\n"),
    ),
    Divergence(
        name="iptables-raw-forward-delete",
        tool="iptables",
        pattern=r"^\$ (ip netns exec \S+ )?iptables -t raw -D FORWARD ",
        reason="`iptables -t raw -D FORWARD …` (the raw table has no FORWARD chain) answers "
               "`Bad rule (does a matching rule exist in that chain?)` with iptables-nft; the "
               "simulator says `No chain/target/match by that name.` (found by the long mode)",
        pinned_by=_pinned("iptables-raw-forward-delete"),
        script="iptables -t raw -D FORWARD -i br0 -j ACCEPT\n",
    ),
    Divergence(
        name="bridge-igmp-snoopers-reports",
        tool="tcpdump",
        pattern=r"^\$ tcpdump -i v1 -n -t igmp$",
        reason="a bridge with multicast snooping (the default) joins the all-snoopers group "
               "224.0.0.106 when it comes up (br_multicast_open), so its IP stack sends two "
               "IGMPv3 reports to 224.0.0.22 (one at once, one within a second: igmp_qrv), "
               "flooded to its ports: a capture on a bridge or a container in the first "
               "second after the bridge came up shows them on the kernel; the simulator does "
               "not send them (docs/fidelity.md, 'Not modelled')",
        pinned_by=_pinned("bridge-igmp-snoopers-reports"),
        script=("ip link add br0 type bridge\nip addr add 10.9.2.1/24 dev br0\n"
                "ip link add v0 type veth peer name v1\nip link set v0 master br0\n"
                "ip link set v0 up\nip link set v1 up\n"
                # The recording wrapper keeps tcpdump's output: nothing written in the
                # caller's directory. The waits are not recorded tools (python3, not sleep):
                # a tool started beside the background tcpdump would race it for its place
                # in the recorded order.
                "tcpdump -i v1 -n -t igmp > /dev/null 2>&1 & dump=$!\n"
                "python3 -c 'import time; time.sleep(1)'\nip link set br0 up\n"
                "python3 -c 'import time; time.sleep(2)'\nkill $dump\nwait $dump\n"),
    ),
    Divergence(
        name="icmp-global-credit-random",
        tool="ping",
        pattern=r"ping -c 20 -i 0\.005 -W 1 -q 10\.9\.1\.1$",
        reason="the global ICMP limit (icmp_msgs_per_sec/icmp_msgs_burst, per namespace) "
               "takes a random 0, 1 or 2 credits per message sent (icmp_global_consume), and "
               "refills by the real time between messages; the simulator takes the mean, 1, "
               "on its virtual clock. With the defaults (50 credits, 1000/s) this shows only "
               "past 25 errors within 20 ms, out of a shell's reach; with "
               "icmp_msgs_per_sec lowered, a burst's '+N errors' is random on the kernel and "
               "fixed on the simulator (docs/fidelity.md, 'ICMP rate limits')",
        pinned_by=_pinned("icmp-global-credit-random"),
        script=(
            "ip netns add r\nip netns add c\n"
            "ip -n r link add e1 type veth peer name eth0 netns c\n"
            "ip -n r addr add 10.9.1.1/24 dev e1\nip -n r link set e1 up\n"
            "ip -n c addr add 10.9.1.2/24 dev eth0\nip -n c link set eth0 up\n"
            "ip netns exec r iptables -A INPUT -p icmp --icmp-type echo-request -j REJECT\n"
            "ip netns exec r sysctl -qw net.ipv4.icmp_ratelimit=0 "
            "net.ipv4.icmp_msgs_per_sec=6\n"
            + "ip netns exec c ping -c 20 -i 0.005 -W 1 -q 10.9.1.1\n" * 6),
    ),
)


def accepted(command_line: str, sim_refused: bool) -> Divergence | None:
    """The sickbay entry that accepts a divergence first seen at `command_line`, or None."""
    for entry in SICKBAY:
        if entry.matches(command_line, sim_refused):
            return entry
    return None

