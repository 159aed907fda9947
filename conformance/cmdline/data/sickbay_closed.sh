# Divergences the generated differential tests found (once in the sickbay), closed: the order
# in which the real tools check things and the words they use.
tc qdisc add dev nosuch root tbf rate 1mbit
tc qdisc add dev nosuch root tbf rate 1mbit burst 10k latency 1s
bridge link set dev nosuch hairpin on
iptables -t nat -I INPUT -p tcp --dport 80 -j DROP
iptables -t nat -D PREROUTING -j DROP
iptables -t nat -A PREROUTING -j ACCEPT
iptables -t mangle -D NOCHAIN -p udp --sport 53 -j NOSUCH
iptables -D INPUT -j NOSUCH
iptables -N X
iptables -A INPUT -g X
iptables -A INPUT -g NOPE
iptables -S
