# ebtables' ip match (-p IPv4 --ip-src/--ip-dst/--ip-proto, inverted, prefixes), refused
# by the kernel without -p IPv4; what it does to bridged traffic, with counters.
ip netns add a
ip netns add b
ip link add br0 type bridge
ip link set br0 up
ip link add va type veth peer name eth0 netns a
ip link add vb type veth peer name eth0 netns b
ip link set va master br0
ip link set vb master br0
ip link set va up
ip link set vb up
ip -n a addr add 10.1.0.2/24 dev eth0
ip -n b addr add 10.1.0.3/24 dev eth0
ip -n a link set eth0 up
ip -n b link set eth0 up
sleep 1
ebtables -A FORWARD -p IPv4 --ip-src 10.1.0.2 --ip-dst 10.1.0.3 -j DROP
ebtables -A FORWARD -p IPv4 --ip-proto icmp -j ACCEPT
ebtables -A FORWARD -p ipv4 --ip-dst 10.1.0.0/24 -j ACCEPT
ebtables -A FORWARD -p IPv4 --ip-source ! 10.9.0.0/16 -j ACCEPT
ebtables -A FORWARD --ip-src 10.1.0.2 -j DROP
ebtables -L FORWARD
ebtables -L FORWARD --Lc
ip netns exec a ping -c1 -W1 10.1.0.3
ip netns exec b ping -c1 -W1 10.1.0.2
ebtables -L FORWARD --Lc
ebtables -F FORWARD
ebtables -L
