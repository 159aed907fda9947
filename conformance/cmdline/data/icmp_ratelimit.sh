# ICMP rate limits (net/ipv4/icmp.c, inetpeer.c, ip_error in route.c): the errors a router
# sends to one peer are cut after a burst, each peer has its own bucket, icmp_ratelimit 0
# lifts the per-peer limit, echo replies are limited only when icmp_ratemask has bit 0, and
# the sysctls take what the kernel's proc handlers take. Router r has no route for
# 203.0.113.0/24; each test has a client of its own (c1..c4), so a fresh peer. Every burst
# lasts well under a second (the kernel side runs in real time; a token comes back each
# second).
ip netns add r
ip -n r link set lo up
ip netns exec r sysctl -w net.ipv4.ip_forward=1
ip netns add c1
ip netns add c2
ip netns add c3
ip netns add c4
ip -n r link add e1 type veth peer name eth0 netns c1
ip -n r link add e2 type veth peer name eth0 netns c2
ip -n r link add e3 type veth peer name eth0 netns c3
ip -n r link add e4 type veth peer name eth0 netns c4
ip -n r addr add 10.9.1.1/24 dev e1
ip -n r addr add 10.9.2.1/24 dev e2
ip -n r addr add 10.9.3.1/24 dev e3
ip -n r addr add 10.9.4.1/24 dev e4
ip -n r link set e1 up
ip -n r link set e2 up
ip -n r link set e3 up
ip -n r link set e4 up
ip -n c1 addr add 10.9.1.2/24 dev eth0
ip -n c2 addr add 10.9.2.2/24 dev eth0
ip -n c3 addr add 10.9.3.2/24 dev eth0
ip -n c4 addr add 10.9.4.2/24 dev eth0
ip -n c1 link set eth0 up
ip -n c2 link set eth0 up
ip -n c3 link set eth0 up
ip -n c4 link set eth0 up
ip -n c1 route add default via 10.9.1.1
ip netns exec r sysctl net.ipv4.icmp_ratelimit net.ipv4.icmp_ratemask net.ipv4.icmp_msgs_per_sec net.ipv4.icmp_msgs_burst
# No route: ip_error spends the peer's tokens first (5 s of burst, 1 s each), then
# icmp_send spends them again (1 s each): 2 errors of 10.
ip netns exec c1 ping -c 10 -i 0.01 -W 1 203.0.113.9
# REJECT's errors pass icmp_send's limit only: a burst of 6.
ip netns exec r iptables -A INPUT -s 10.9.2.2 -p icmp -j REJECT
ip netns exec c2 ping -c 10 -i 0.01 -W 1 10.9.2.1
# A UDP datagram to a closed port: port unreachable, 6 of the burst (counted in r's OUTPUT).
ip netns exec r iptables -A OUTPUT -p icmp --icmp-type port-unreachable -d 10.9.3.2
ip netns exec c3 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo x | nc -u -w0 10.9.3.1 9; done'
ip netns exec r iptables -nvxL OUTPUT
# icmp_ratelimit 0: no limit per peer (c2's bucket is empty, yet every error goes).
ip netns exec r sysctl -w net.ipv4.icmp_ratelimit=0
ip netns exec c2 ping -c 10 -i 0.01 -W 1 10.9.2.1
# Written in ms, kept in jiffies (4 ms at HZ=250), read back in ms.
ip netns exec r sysctl -w net.ipv4.icmp_ratelimit=1001
ip netns exec r sysctl net.ipv4.icmp_ratelimit
# Bit 0 of the mask: echo replies too are limited, 6 of 10 answered.
ip netns exec r sysctl -w net.ipv4.icmp_ratemask=6169
ip netns exec c4 ping -c 10 -i 0.01 -W 1 10.9.4.1
ip netns exec r sysctl -w net.ipv4.icmp_ratelimit=-1
ip netns exec r sysctl -w net.ipv4.icmp_msgs_per_sec=-1
ip netns exec r sysctl -w net.ipv4.icmp_msgs_burst=2147483648
ip netns exec r sysctl -w net.ipv4.icmp_ratemask=-1
ip netns exec r sysctl -w net.ipv4.icmp_msgs_burst=20
ip netns exec r sysctl net.ipv4.icmp_ratelimit net.ipv4.icmp_ratemask net.ipv4.icmp_msgs_burst
