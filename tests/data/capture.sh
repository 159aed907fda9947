#!/bin/bash
# Captures the golden files of tests/data from THIS machine's real iptables/ebtables, inside a
# throw-away network namespace (never the root one). Run as root: bash tests/data/capture.sh
# The files it writes are real tool output; edit the rules below, never the captured files.
set -u
cd "$(dirname "$0")"
NS=ctrnet-nf-golden-$$
ip netns add "$NS" || exit 1
trap 'ip netns del "$NS"' EXIT INT TERM
X() { ip netns exec "$NS" "$@"; }
ipt() { X iptables "$@" || { echo "capture: iptables $* failed" >&2; exit 1; }; }
ebt() { X ebtables "$@" || { echo "capture: ebtables $* failed" >&2; exit 1; }; }
reset() { X iptables-restore <<<$'*filter\nCOMMIT\n'; for t in nat mangle raw; do X iptables -t $t -F; done; }

# 1. A container host: docker-like nat + filter.
ipt -N DOCKER
ipt -N DOCKER-USER
ipt -A FORWARD -j DOCKER-USER
ipt -A FORWARD -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A FORWARD -o br0 -j DOCKER
ipt -A FORWARD -i br0 ! -o br0 -j ACCEPT
ipt -A FORWARD -i br0 -o br0 -j ACCEPT
ipt -A DOCKER -d 10.0.0.2/32 ! -i br0 -o br0 -p tcp -m tcp --dport 80 -j ACCEPT
ipt -A DOCKER-USER -j RETURN
ipt -t nat -N DOCKER
ipt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -m comment --comment "x y" -j MASQUERADE
ipt -t nat -A DOCKER -i br0 -j RETURN
ipt -t nat -A DOCKER ! -i br0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
X iptables-save > save_docker.rules

# 2. Every supported match and target, every table.
reset
ipt -N USER
ipt -N zeta
ipt -N Alpha
ipt -A INPUT -s 10.0.0.1 -j ACCEPT
ipt -A INPUT ! -s 10.0.0.0/8 -d 192.168.1.5/24 -j DROP
ipt -A INPUT -s 10.1.2.3/255.255.0.0 -j ACCEPT
ipt -A INPUT -s 10.1.2.3/255.0.255.0 -j ACCEPT
ipt -A INPUT ! -i veth+ -j ACCEPT
ipt -A INPUT -i lo -p udp --sport 53 -j ACCEPT
ipt -A INPUT -p udp ! --dport 1000:2000 -j ACCEPT
ipt -A INPUT -p tcp --dport 22 --sport 1024:65535 -j ACCEPT
ipt -A INPUT -p tcp ! --sport 1 ! --dport :1024 -j ACCEPT
ipt -A INPUT -p tcp --dport 1024: -j ACCEPT
ipt -A INPUT -p 6 -j ACCEPT
ipt -A INPUT -p 17 -j ACCEPT
ipt -A INPUT -p all -j ACCEPT
ipt -A INPUT ! -p tcp -j ACCEPT
ipt -A INPUT -p 47 -j ACCEPT
ipt -A INPUT -p 200 -j ACCEPT
ipt -A INPUT -p icmp --icmp-type echo-request -j ACCEPT
ipt -A INPUT -p icmp --icmp-type 3/3 -j ACCEPT
ipt -A INPUT -p icmp ! --icmp-type 0 -j ACCEPT
ipt -A INPUT -p icmp --icmp-type any -j ACCEPT
ipt -A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT
ipt -A INPUT -p udp -m multiport --sports 53,67 -j ACCEPT
ipt -A INPUT -p tcp -m multiport --ports 1,2 -j ACCEPT
ipt -A INPUT -p tcp -m multiport ! --dports 80,443 -j ACCEPT
ipt -A INPUT -m state --state NEW,ESTABLISHED -j ACCEPT
ipt -A INPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED,INVALID,UNTRACKED,DNAT,SNAT -j ACCEPT
ipt -A INPUT -m conntrack ! --ctstate INVALID -j ACCEPT
ipt -A INPUT -m state ! --state INVALID,UNTRACKED -j ACCEPT
ipt -A INPUT -p tcp -m tcp -j ACCEPT
ipt -A INPUT -p icmp --icmp-type host-unreachable -j ACCEPT
ipt -A INPUT -p tcp --sport 5:5 ! --dport 0 -j ACCEPT
ipt -A INPUT -m addrtype --dst-type LOCAL -j ACCEPT
ipt -A INPUT -m addrtype --src-type LOCAL,UNICAST ! --dst-type MULTICAST --limit-iface-in -j ACCEPT
ipt -A INPUT -m comment --comment "hello world" -j ACCEPT
ipt -A INPUT -m comment --comment simple -j ACCEPT
ipt -A INPUT -m comment --comment 'with "quote"' -j ACCEPT
ipt -A INPUT -m comment --comment 'back\slash' -j ACCEPT
ipt -A INPUT -m comment --comment "" -j ACCEPT
ipt -A INPUT -m comment --comment "a'b" -j ACCEPT
ipt -A INPUT -m comment --comment "10.0.0.1:80" -j ACCEPT
ipt -A INPUT -m mark --mark 0x1 -j ACCEPT
ipt -A INPUT -m mark --mark 5/0xff -j ACCEPT
ipt -A INPUT -m mark ! --mark 0x10/0x10 -j ACCEPT
ipt -A INPUT -m mark --mark 1 -m comment --comment c1 -p tcp --dport 5 -s 1.2.3.4 -j ACCEPT
ipt -A INPUT -p tcp -j REJECT --reject-with tcp-reset
ipt -A INPUT -j REJECT
ipt -A INPUT -j REJECT --reject-with icmp-host-unreachable
ipt -A INPUT -j REJECT --reject-with icmp-net-unreachable
ipt -A INPUT -j REJECT --reject-with icmp-admin-prohibited
ipt -A INPUT -j REJECT --reject-with icmp-proto-unreachable
ipt -A INPUT -j REJECT --reject-with icmp-net-prohibited
ipt -A INPUT -j REJECT --reject-with icmp-host-prohibited
ipt -A INPUT -j LOG
ipt -A INPUT -j LOG --log-prefix "IN: " --log-level 4
ipt -A INPUT -j LOG --log-prefix drop --log-level debug
ipt -A INPUT -j LOG --log-level 0
ipt -A INPUT -j USER
ipt -A INPUT -g USER
ipt -A INPUT -m mark --mark 0x1/0xff -g Alpha
ipt -A INPUT -j MARK --set-mark 0x10
ipt -A INPUT -j RETURN
ipt -A INPUT -j DROP
ipt -A FORWARD -i br0 -o eth0 -j ACCEPT
ipt -A FORWARD -m physdev --physdev-in veth0 -j ACCEPT
ipt -A FORWARD -o br0 -m physdev --physdev-out veth+ --physdev-is-bridged -j ACCEPT
ipt -A FORWARD -m physdev ! --physdev-is-bridged -j ACCEPT
ipt -A FORWARD -m physdev ! --physdev-in veth0 -j ACCEPT
ipt -A FORWARD -m physdev --physdev-is-in ! --physdev-is-out -j ACCEPT
ipt -A FORWARD -m addrtype --dst-type LOCAL -j MARK --set-mark 5
ipt -A OUTPUT -m addrtype ! --dst-type LOCAL --limit-iface-out -j ACCEPT
ipt -A OUTPUT -o eth0 -j ACCEPT
ipt -P FORWARD DROP
ipt -A USER -j RETURN
ipt -A zeta -j ACCEPT
ipt -t mangle -A PREROUTING -j MARK --set-mark 0x10/0xff
ipt -t mangle -A PREROUTING -j MARK --set-xmark 0x10/0xff
ipt -t mangle -A PREROUTING -j MARK --and-mark 0x10
ipt -t mangle -A PREROUTING -j MARK --or-mark 0x10
ipt -t mangle -A PREROUTING -j MARK --xor-mark 0x10
ipt -t mangle -A FORWARD -m mark ! --mark 0x0 -j ACCEPT
ipt -t nat -A POSTROUTING -j MASQUERADE
ipt -t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000
ipt -t nat -A POSTROUTING -p udp -j MASQUERADE --to-ports 1000
ipt -t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4
ipt -t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4-1.2.3.10
ipt -t nat -A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:1000-2000
ipt -t nat -A POSTROUTING -p udp -j SNAT --to-source 1.2.3.4-1.2.3.6:1000
ipt -t nat -A PREROUTING -j DNAT --to-destination 10.0.0.2
ipt -t nat -A PREROUTING -d 203.0.113.5 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
ipt -t nat -A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.2:8080-8090
ipt -t nat -A OUTPUT -p tcp -j DNAT --to-destination 10.0.0.2-10.0.0.5:80
ipt -t nat -A INPUT -j SNAT --to-source 1.2.3.4
ipt -t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4 --random --persistent
ipt -t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 5000 --random
ipt -t nat -A PREROUTING -p tcp -j DNAT --to-destination :8080
ipt -t raw -A PREROUTING -p icmp -j TRACE
ipt -t raw -A OUTPUT -j TRACE
X iptables-save > save_matches.rules
X iptables -S > S_filter.txt
X iptables -S INPUT 2 > S_input_2.txt
X iptables -t nat -S POSTROUTING > S_nat_postrouting.txt
for t in filter nat mangle raw; do
  X iptables -t $t -L -n > list_${t}_n.txt
  X iptables -t $t -L -n -v > list_${t}_nv.txt
  X iptables -t $t -L -n -v -x --line-numbers > list_${t}_nvx_lines.txt
done

# 3. Counters after real traffic (lo pings in the namespace).
reset
X ip link set lo up
ipt -N user-chain
ipt -A INPUT -s 127.0.0.1 -p icmp -m comment --comment "hello there" -j LOG --log-prefix "IN: "
ipt -A INPUT -i lo ! -s 10.0.0.0/8 -j user-chain
ipt -A INPUT -p icmp --icmp-type echo-reply -j ACCEPT
ipt -A OUTPUT -p icmp --icmp-type echo-request -j ACCEPT
ipt -A user-chain -j RETURN
X ping -c 1500 -f -q -s 1400 127.0.0.1 > /dev/null
X iptables-save -c > save_counters.rules
X iptables -S -v > S_v_counters.txt
X iptables -L -n -v > list_counters_nv.txt
X iptables -L -n -v -x --line-numbers > list_counters_nvx_lines.txt
X iptables -L INPUT -n -v > list_counters_input_nv.txt
X ip link set lo down

# 4. ebtables filter table.
ebt -A FORWARD -o veth1 -i veth0 -d 02:00:00:00:00:02 -s 02:00:00:00:00:01 -p IPv4 -j ACCEPT
ebt -A FORWARD -s ! 02:00:00:00:00:01 -j DROP
ebt -A FORWARD ! -s 02:00:00:00:00:01 -d 02:00:00:00:00:02/ff:ff:ff:00:00:00 -j DROP
ebt -A FORWARD -p ARP -j ACCEPT
ebt -A FORWARD -p ! IPv6 -j ACCEPT
ebt -A FORWARD -p 0x1234 -j ACCEPT
ebt -A FORWARD -i ! veth0 -o ! veth1 -j ACCEPT
ebt -A FORWARD -d Broadcast -j DROP
ebt -A INPUT -i eth+ -j ACCEPT
ebt -A OUTPUT -o veth0 -s 2:0:0:0:0:1 -j DROP
ebt -P FORWARD DROP
X ebtables -L > ebtables_L.txt
X ebtables -L FORWARD --Ln --Lc > ebtables_L_forward_Ln_Lc.txt

# 5. What iptables refuses, and how: errors.tsv = argv<TAB>exit status<TAB>stderr on one line.
reset
ipt -N USER
ipt -A USER -j ACCEPT
ipt -N EMPTY
ipt -N REF
ipt -A INPUT -j REF
ipt -A INPUT -s 10.0.0.1 -j ACCEPT
: > errors.tsv
err() {
  local msg rc
  msg=$(X iptables "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" = 0 ] && { echo "capture: iptables $* succeeded" >&2; exit 1; }
  printf '%s\t%s\t%s\n' "$*" "$rc" "$(grep -v '^Try ' <<<"$msg" | tr -s '\n' ' ')" >> errors.tsv
}
err -A NOCHAIN -j ACCEPT
err -A INPUT -j NOSUCH
err -A INPUT -m nosuch -j ACCEPT
err -A INPUT --nosuch 1 -j ACCEPT
err -A INPUT -m comment -j ACCEPT
err -A INPUT -s 10.0.0.300 -j ACCEPT
err -A INPUT -s 10.0.0.0/33 -j ACCEPT
err -A INPUT -p tcp --dport 70000 -j ACCEPT
err -A INPUT -p tcp --dport 80:70 -j ACCEPT
err -A INPUT -p nosuchproto -j ACCEPT
err -A INPUT -s 1.2.3.4 -s 1.2.3.5 -j ACCEPT
err -A INPUT -j ACCEPT -j DROP
err -A INPUT -p tcp -p udp -j ACCEPT
err -A INPUT -o eth0 -j ACCEPT
err -A OUTPUT -i eth0 -j ACCEPT
err -A INPUT -i abcdefghijklmnop -j ACCEPT
err -A INPUT -p tcp --dport 5 --dport 6 -j ACCEPT
err -A INPUT -m tcp --dport 5 -j ACCEPT
err -A INPUT -m multiport --dports 80 -j ACCEPT
err -A INPUT -p tcp -m multiport --dports 9:7 -j ACCEPT
err -A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j ACCEPT
err -A INPUT -m conntrack --ctstate FOO -j ACCEPT
err -A INPUT -m conntrack -j ACCEPT
err -A INPUT -m addrtype -j ACCEPT
err -A INPUT -m addrtype --src-type LOCAL --dst-type ! MULTICAST -j ACCEPT
err -A INPUT -m addrtype --limit-iface-in --limit-iface-out --dst-type LOCAL -j ACCEPT
err -A INPUT -m physdev -j ACCEPT
err -A INPUT -m comment --comment a --comment b -j ACCEPT
err -A INPUT -j REJECT --reject-with foo
err -A INPUT -j REJECT --reject-with tcp-reset
err -A INPUT -j LOG --log-level 8
err -A INPUT -j MARK
err -A INPUT -j MARK --set-mark 1 --or-mark 2
err -A INPUT -j MARK --set-mark 0xfffffffff
err -A INPUT -j ACCEPT --to-ports 5
err -A INPUT ! -s 0.0.0.0/0 -j ACCEPT
err -A INPUT -j MASQUERADE
err -A INPUT -j DNAT --to-destination 10.0.0.1
err -t nat -A PREROUTING -j MASQUERADE
err -t nat -A PREROUTING -j SNAT --to-source 1.1.1.1
err -t nat -A POSTROUTING -j DNAT --to-destination 1.1.1.1
err -t nat -A INPUT -j DNAT --to-destination 1.1.1.1
err -t nat -A OUTPUT -j SNAT --to-source 1.1.1.1
err -t nat -A INPUT -j MASQUERADE
err -t nat -A POSTROUTING -j MASQUERADE --to-ports 1000
err -t nat -A PREROUTING -j DNAT --to-destination 1.1.1.1:80
err -t nat -A POSTROUTING -j SNAT
err -t nat -A POSTROUTING -p tcp -j SNAT --to-source 1.1.1.1:90-80
err -t nat -A FORWARD -j ACCEPT
err -t mangle -A POSTROUTING -j DNAT --to-destination 1.1.1.1
err -t nosuch -A INPUT -j ACCEPT
err -P USER DROP
err -P INPUT RETURN
err -N USER
err -N INPUT
err -N xxxxxxxxxxxxxxxxxxxxxxxxxxxxx
err -N -bad
err -N ACCEPT
err -N LOG
err -X USER
err -X REF
err -X nosuch
err -X INPUT
err -E EMPTY USER
err -E nosuch other
err -D INPUT -s 9.9.9.9 -j ACCEPT
err -D INPUT 100
err -I INPUT 4 -j ACCEPT
err -R INPUT 3 -j ACCEPT
err -C INPUT -s 9.9.9.9 -j ACCEPT
err -D INPUT -j NOSUCH
: > restore_errors.tsv
rerr() {
  local msg rc
  msg=$(printf -- "$1" | X iptables-restore --noflush 2>&1 >/dev/null); rc=$?
  [ "$rc" = 0 ] && { echo "capture: restore of $1 succeeded" >&2; exit 1; }
  printf '%s\t%s\t%s\n' "$1" "$rc" "$(grep -v '^Try ' <<<"$msg" | tr -s '\n' ' ')" >> restore_errors.tsv
}
rerr '*filter\n:new1 - [0:0]\n-A INPUT -j ACCEPT\n-A INPUT -j nosuch\nCOMMIT\n'
rerr '*filter\n-A INPUT -j ACCEPT\n-A INPUT --bogus -j ACCEPT\nCOMMIT\n'
rerr '*filter\n-A INPUT -j ACCEPT\n'
rerr '*bogus\nCOMMIT\n'
rerr '*filter\n:INPUT BOGUS [0:0]\nCOMMIT\n'
rerr '*filter\nbogus line\nCOMMIT\n'
rerr '-A INPUT -j ACCEPT\n'
rerr '*filter\n-t nat -A INPUT -j ACCEPT\nCOMMIT\n'
rerr '*filter\n-A INPUT -m comment --comment "a b"c -j ACCEPT\nCOMMIT\n'
rerr '*filter\n-X REF\nCOMMIT\n'
rerr '*filter\n-A NOCHAIN -j ACCEPT\nCOMMIT\n'
X iptables-save > save_after_errors.rules
