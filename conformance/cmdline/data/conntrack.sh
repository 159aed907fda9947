# conntrack (conntrack-tools 1.4.7) on the namespace's table: -L with its filters, -o
# extended, -C, -D (exit 1 when nothing matched), -F; entries of TCP (through DNAT), UDP
# without a reply and ICMP echo, with their flags; nc -u to a closed port.
ip netns add srv
ip link add veth0 type veth peer name veth1 netns srv
ip addr add 10.9.0.1/24 dev veth0
ip link set veth0 up
ip -n srv addr add 10.9.0.2/24 dev veth1
ip -n srv link set veth1 up
sleep 1
conntrack -L
conntrack -C
iptables -A OUTPUT -m conntrack --ctstate NEW -j ACCEPT
iptables -t nat -A OUTPUT -d 10.9.0.99 -p tcp --dport 80 -j DNAT --to-destination 10.9.0.2:8080
ping -c1 10.9.0.2 > /dev/null
ip netns exec srv nc -l -p 8080 > /dev/null &
sleep 1
echo hi | nc -N -p 40000 10.9.0.99 80
wait
echo x | nc -u -w1 -p 40001 10.9.0.2 53
echo x | nc -v -u -w1 -p 40003 10.9.0.2 53
nc -z -p 40002 10.9.0.2 9
conntrack -L 2>&1 | sort
conntrack -C
conntrack -L -p tcp
conntrack -L -p udp 2>&1 | sort
conntrack -L -s 10.9.0.1 -p icmp
conntrack -L -d 10.9.0.99
conntrack -L -r 10.9.0.2 -p tcp --dport 80
conntrack -L -q 10.9.0.1 -p udp --sport 40001
conntrack -L -p tcp --state TIME_WAIT
conntrack -L -o extended 2>&1 | sort
conntrack -D -p udp --sport 40001
conntrack -D -p udp --sport 40001
conntrack -C
conntrack -F
conntrack -L
conntrack -L -p sctp
conntrack -X
conntrack --bogus
conntrack -L -s
ip netns del srv
