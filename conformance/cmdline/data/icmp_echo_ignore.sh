# icmp_echo_ignore_all: a namespace that ignores echo requests answers none, from another
# namespace or from itself; icmp_echo_ignore_all and icmp_echo_ignore_broadcasts take 0 or 1
# only (proc_dou8vec_minmax).
ip netns add a
ip link add va type veth peer name eth0 netns a
ip addr add 10.1.0.1/24 dev va
ip link set va up
ip -n a addr add 10.1.0.2/24 dev eth0
ip -n a link set eth0 up
ip -n a link set lo up
ip netns exec a sysctl -w net.ipv4.icmp_echo_ignore_all=2
ip netns exec a sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=2
ip netns exec a sysctl -w net.ipv4.icmp_echo_ignore_all=1
ping -c 1 -W 1 10.1.0.2
ip netns exec a ping -c 1 -W 1 10.1.0.2
ip netns exec a ping -c 1 -W 1 127.0.0.1
ping -c 1 -W 1 10.1.0.1
ip netns exec a sysctl -w net.ipv4.icmp_echo_ignore_all=0
ping -c 1 -W 1 10.1.0.2
ip netns exec a sysctl net.ipv4.icmp_echo_ignore_all net.ipv4.icmp_echo_ignore_broadcasts
