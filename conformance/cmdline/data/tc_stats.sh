# tc -s (statistics of a root qdisc: noqueue keeps none, tbf counts every frame it lets
# through, ARP included, and keeps its counts across replace) and tc -n NS.
ip netns add a
ip link add va type veth peer name eth0 netns a
ip addr add 10.1.0.1/24 dev va
ip link set va up
ip -n a addr add 10.1.0.2/24 dev eth0
ip -n a link set eth0 up
sleep 1
tc -s qdisc show dev va
tc qdisc add dev va root tbf rate 1mbit burst 32kbit latency 400ms
tc -s qdisc show dev va
ping -c 3 -i 0.2 10.1.0.2 > /dev/null
tc -s qdisc show dev va
tc -s qdisc show
tc -s -j qdisc show dev va
tc qdisc replace dev va root tbf rate 2mbit burst 32kbit latency 400ms
tc -s qdisc show dev va
tc -n a qdisc show dev eth0
tc -s -n a qdisc show dev eth0
tc -n a -s qdisc show
tc -n nope qdisc show
tc -net a qdisc show dev eth0
ip netns del a
