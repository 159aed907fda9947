# ping's lines for the ICMP errors its requests draw (iputils): REJECT's port unreachable,
# host prohibited, net unreachable; the "+N errors" of the statistics and the exit status.
ip netns add a
ip link add va type veth peer name eth0 netns a
ip addr add 10.1.0.1/24 dev va
ip link set va up
ip -n a addr add 10.1.0.2/24 dev eth0
ip -n a link set eth0 up
sleep 1
iptables -A INPUT -p icmp -j REJECT
ip netns exec a ping -c2 -i 0.2 -W1 10.1.0.1
iptables -F INPUT
iptables -A INPUT -p icmp -j REJECT --reject-with icmp-host-prohibited
ip netns exec a ping -c1 -W1 10.1.0.1
iptables -F INPUT
iptables -A INPUT -p icmp -j REJECT --reject-with icmp-net-unreachable
ip netns exec a ping -c1 -W1 10.1.0.1
ip netns exec a ping -c1 -q -W1 10.1.0.1
iptables -F INPUT
iptables -A INPUT -p icmp -m state --state NEW -j REJECT --reject-with icmp-admin-prohibited
ip netns exec a ping -c1 -W1 10.1.0.1
iptables -F INPUT
ip netns exec a ping -c1 -W1 10.1.0.1
ip netns del a
