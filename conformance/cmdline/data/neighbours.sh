# ip neigh add|replace|change|del as ipneigh.c and the kernel answer them (default nud
# permanent, EEXIST/ENOENT, the states a hand-made entry shows), NOARP entries hidden by
# default, flush keeping permanent entries, and the flushes of NETDEV_CHANGEADDR (a MAC
# change) and NETDEV_DOWN that take permanent entries too; a wrong permanent entry is used.
ip link add va type veth peer name vb
ip addr add 10.1.0.1/24 dev va
ip link set va up
ip link set vb up
ip neigh add 10.1.0.9 lladdr 02:00:00:00:00:09 dev va
ip neigh add 10.1.0.9 lladdr 02:00:00:00:00:09 dev va
ip neigh add 10.1.0.10 dev va
ip neigh add 10.1.0.11 lladdr 02:00:00:00:00:0b dev va nud stale
ip neigh add 10.1.0.12 lladdr 02:00:00:00:00:0c dev va nud noarp
ip neigh add 10.1.0.13 lladdr 02:00:00:00:00:0d dev va nud reachable
ip neigh add 10.1.0.14 lladdr 02:00:00:00:00:0e dev va nud delay
ip neigh add 10.1.0.16 lladdr 02:00:00:00:00:10 dev va nud incomplete
ip neigh add 10.1.0.17 lladdr 02:00:00:00:00:11 dev va nud failed
ip neigh add 10.1.0.18 lladdr 02:00:00:00:00:12 dev va nud probe
ip neigh add 10.1.0.19 lladdr 02:00:00:00:00:12 dev va nud bogus
ip neigh add 10.1.0.20 lladdr 02:00:00:00:00 dev va
ip neigh add 10.1.0.21 lladdr 02:00:00:00:00:13
ip neigh add 10.1.0.22 lladdr 02:00:00:00:00:13 dev nope
ip neigh add 10.2.0.22 lladdr 02:00:00:00:00:13 dev va
ip neigh show dev va
ip neigh replace 10.1.0.9 lladdr 02:00:00:00:00:0a dev va
ip neigh change 10.1.0.30 lladdr 02:00:00:00:00:0a dev va
ip neigh change 10.1.0.11 lladdr 02:00:00:00:00:1b dev va
ip neigh replace 10.1.0.31 lladdr 02:00:00:00:00:1f dev va nud reachable
ip neigh show dev va
ip neigh del 10.1.0.9 dev va
ip neigh del 10.1.0.9 dev va
ip neigh del 10.1.0.10
ip neigh show dev va
ip neigh flush dev va
ip neigh show dev va
ip link set va address 02:00:00:00:00:aa
ip neigh show dev va
ip neigh add 10.1.0.40 lladdr 02:00:00:00:00:28 dev va nud stale
ip neigh add 10.1.0.41 lladdr 02:00:00:00:00:29 dev va
ip link set va address 02:00:00:00:00:ab
ip neigh show dev va
ip neigh add 10.1.0.42 lladdr 02:00:00:00:00:29 dev va
ip link set va down
ip neigh show dev va
ip link set va up
ip netns add b
ip link set vb netns b
ip -n b addr add 10.1.0.2/24 dev vb
ip -n b link set vb up
sleep 1
ip neigh add 10.1.0.2 lladdr 02:00:00:00:00:99 dev va
ping -c1 -W1 10.1.0.2
ip neigh replace 10.1.0.2 lladdr $(ip -n b -br link show vb | awk '{print $3}') dev va nud stale
ping -c1 -W1 10.1.0.2 > /dev/null
ip neigh show dev va
ip -n b neigh show
ip -n b link set vb address 02:00:00:00:00:33
ip -n b neigh show
ip neigh show dev va
ip netns del b
