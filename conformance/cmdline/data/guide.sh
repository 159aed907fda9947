# Every command block of the phase-2 guide, in the guide's order, as a learner types them.
# Run under `ctrnet sim exec` and, as root, inside a throw-away `unshare -n` sandbox; the
# differential test compares the two outputs line by line (conformance/cmdline/test_scripts.py).
# Adapted only where the guide's commands would touch a real host or cannot be simulated;
# each adaptation says why. Lines starting with `# show:` are observations added between
# blocks so that the state, not only the commands' own output, is compared.

# -- block 1: network namespaces
ip netns add container1
ip netns exec container1 ip addr show
ip netns delete container1

# -- the veth pair of the guide's diagram (it gives no command for it; block 2 needs veth0)
ip netns add container1
ip link add veth0 type veth peer name veth1 netns container1
ip -n container1 addr add 172.20.0.2/24 dev veth1
ip -n container1 link set veth1 up
ip -n container1 link set lo up

# -- block 2: the bridge
ip link add name ctr0 type bridge
ip link set ctr0 up
ip addr add 172.20.0.1/24 dev ctr0
ip link set veth0 master ctr0
# (the guide leaves veth0 down: without carrier the port would not forward)
ip link set veth0 up
# (the kernel applies a carrier change asynchronously, in linkwatch: give it a moment)
sleep 1
bridge link show
bridge fdb show
ip netns exec container1 ip route add default via 172.20.0.1
ip netns exec container1 ping -c 2 172.20.0.1

# -- the guide's eth0 uplink: a veth to a "wan" namespace (TEST-NET-3), never a real NIC
ip netns add wan
ip link add eth0 type veth peer name wan0 netns wan
ip addr add 203.0.113.1/24 dev eth0
ip link set eth0 up
ip -n wan addr add 203.0.113.254/24 dev wan0
ip -n wan link set wan0 up
ip route add default via 203.0.113.254

# -- block 3: NAT
iptables -t nat -A POSTROUTING -s 172.20.0.0/24 ! -o ctr0 -j MASQUERADE
# The guide writes `echo 1 > /proc/sys/net/ipv4/ip_forward`: a write to /proc cannot be
# intercepted by the simulator, so the script uses the equivalent sysctl.
sysctl -w net.ipv4.ip_forward=1
ip netns exec container1 ping -c 1 203.0.113.254

# -- block 4 (tcpdump -i ctr0 -n; tcpdump -i veth0 host 172.20.0.2) runs until interrupted:
# not part of a script.

# -- block 5: troubleshooting
ip netns list
ip route show
ip neigh show

# -- block 6: counters and tracing
iptables -t nat -L -v -n
iptables -t raw -A PREROUTING -j TRACE

# -- block 7: allow one port only
iptables -A FORWARD -i ctr0 -p tcp --dport 80 -j ACCEPT
iptables -A FORWARD -i ctr0 -j DROP

# -- block 8: pin a MAC address
ebtables -A FORWARD -i veth0 -s ! 02:42:ac:14:00:02 -j DROP

# -- block 9: traffic shaping
tc qdisc add dev veth0 root tbf rate 1mbit burst 32kbit latency 400ms

# show: the resulting state
iptables-save
ebtables -L
tc qdisc show dev veth0
ip -br addr
