# iptables, iptables-save/-restore, ebtables and tc as scripts and CNI plugins drive them.
iptables -N CTR-FWD
iptables -A FORWARD -j CTR-FWD
iptables -A CTR-FWD -i br0 -o br0 -j ACCEPT
iptables -I CTR-FWD 1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A CTR-FWD -p tcp --dport 22 -j DROP
iptables -C CTR-FWD -p tcp --dport 22 -j DROP
iptables -C CTR-FWD -p tcp --dport 23 -j DROP
iptables -w -S CTR-FWD
iptables -w 5 -L CTR-FWD -n --line-numbers
iptables -L -n -v -x
iptables -D CTR-FWD 2
iptables -D CTR-FWD -p tcp --dport 22 -j DROP
iptables -S
iptables -t nat -N CTR-DNAT
iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j CTR-DNAT
iptables -t nat -A CTR-DNAT -p tcp --dport 8080 -j DNAT --to-destination 10.20.0.2:80
iptables -t nat -A POSTROUTING -s 10.20.0.0/24 ! -o br0 -j MASQUERADE
iptables-save -t nat
iptables-save -c
iptables -Z
iptables -t nat -F CTR-DNAT
iptables -t nat -X CTR-DNAT
iptables -t nat -X CTR-DNAT
iptables-save > saved.rules
iptables -F
iptables -X CTR-FWD
iptables-restore --test < saved.rules
iptables -S FORWARD
iptables-restore < saved.rules
iptables -S FORWARD
printf '*filter\n-A INPUT -s 192.0.2.1 -j DROP\nCOMMIT\n' | iptables-restore --noflush
iptables -S INPUT
printf '*filter\n-A INPUT -j nosuch\nCOMMIT\n' | iptables-restore
iptables -P FORWARD DROP
iptables -L FORWARD
iptables -t nat -L -n
ip link add veth0 type veth peer name veth1
ip link add name br0 type bridge
ip link set veth0 master br0
ebtables -A FORWARD -i veth0 -s ! 02:42:ac:14:00:02 -j DROP
ebtables -A FORWARD -i veth0 ! -s 02:42:ac:14:00:03 -j DROP
ebtables -I FORWARD 1 -p ARP -j ACCEPT
ebtables -L FORWARD --Ln
ebtables -D FORWARD 1
ebtables -L
ebtables -F FORWARD
ebtables -L FORWARD
ip link set veth0 up
ip link set veth1 up
tc qdisc show dev veth0
tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms
tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms
tc qdisc replace dev veth0 root tbf rate 1.5mbit burst 10kb latency 50ms
tc qdisc show dev veth0
tc -j qdisc show dev veth0
tc qdisc replace dev veth0 root tbf rate 100kbit burst 1600 limit 3000
tc qdisc show dev veth0
tc qdisc del dev veth0 root
tc qdisc del dev veth0 root
tc qdisc show dev veth0
tc qdisc add dev nosuch root tbf rate 1mbit burst 32kbit latency 400ms
tc qdisc add dev veth0 root tbf rate 1mbit
