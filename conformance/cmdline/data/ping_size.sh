# ping -s SIZE (the header's SIZE(SIZE+28), replies of SIZE+8 bytes, no times below 16 data
# bytes) and -M do within the path MTU; a bad -s or -M value.
ip link set lo up
ip netns add a
ip link add va type veth peer name eth0 netns a
ip addr add 10.1.0.1/24 dev va
ip link set va up
ip -n a addr add 10.1.0.2/24 dev eth0
ip -n a link set eth0 up
sleep 1
ping -c1 -s 1000 127.0.0.1
ping -c1 -s 8 127.0.0.1
ping -c1 -s 0 127.0.0.1
ping -c1 -s x 127.0.0.1
ping -c1 -M bogus 127.0.0.1
ping -c1 -q -s 20 127.0.0.1
ip netns exec a ping -c2 -i 0.2 -s 1400 10.1.0.1
ip netns exec a ping -c1 -M do -s 1472 10.1.0.1
ip netns exec a ping -c1 -M dont -s 100 10.1.0.1
iptables -A INPUT -p icmp -j REJECT
ip netns exec a ping -c1 -W1 -s 500 10.1.0.1
ip netns del a
