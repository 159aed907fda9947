# ip route show table local: the local route of every address (secondaries' src is their
# primary), broadcast and loopback prefix routes while links are up, the table's absence
# before any address, filters (dev, type, destination), -j.
ip route show table local
ip link set lo up
ip link add va type veth peer name vb
ip addr add 10.1.0.1/24 dev va
ip addr add 10.1.0.7/24 dev va
ip addr add 192.168.5.1/30 dev vb
ip route show table local
ip link set va up
ip link set vb up
sleep 1
ip route show table local
ip -j route show table local
ip route show table local dev va
ip route show table 255 type broadcast
ip route show table main
ip -d route show table local dev lo
ip route list table local 10.1.0.1
ip netns add x
ip -n x route show table local
ip -n x link set lo up
ip -n x route show table local
