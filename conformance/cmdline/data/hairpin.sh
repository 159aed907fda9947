# Hairpin: a container reaching its own published port through the host's address. The
# DNATed packet must leave the bridge by the port it came in on, which the bridge does only
# with hairpin on (`ip link set DEV type bridge_slave hairpin on` or `bridge link set dev DEV
# hairpin on`); the MASQUERADE of the hairpinned flow makes the reply come back the same way.
ip netns add c1
ip link add ctr0 type bridge
ip link set ctr0 up
ip addr add 172.20.0.1/24 dev ctr0
ip link add veth0 type veth peer name eth0 netns c1
ip link set veth0 master ctr0
ip link set veth0 up
ip -n c1 addr add 172.20.0.2/24 dev eth0
ip -n c1 link set eth0 up
ip -n c1 link set lo up
ip -n c1 route add default via 172.20.0.1
ip link add eth9 type veth peer name eth9p
ip addr add 203.0.113.1/24 dev eth9
ip link set eth9 up
sysctl -qw net.ipv4.ip_forward=1
iptables -t nat -A PREROUTING -d 203.0.113.1 -p tcp --dport 8080 -j DNAT --to-destination 172.20.0.2:80
iptables -t nat -A POSTROUTING -s 172.20.0.0/24 -d 172.20.0.2 -p tcp --dport 80 -j MASQUERADE
ip link set veth0 type bridge_slave hairpin on
ip -d link show veth0 | grep -o 'hairpin [a-z]*'
ip link set veth0 type bridge_slave hairpin off
bridge -d link show dev veth0 | grep -o 'hairpin [a-z]*'
echo hi | ip netns exec c1 nc -l -p 80 > nc.out &
sleep 2
echo via-host | ip netns exec c1 nc -N -w 2 203.0.113.1 8080
ip link set veth0 type bridge_slave hairpin on
sleep 2
echo via-host | ip netns exec c1 nc -N -w 2 203.0.113.1 8080
wait
cat nc.out
bridge link set dev veth0 hairpin off
ip -d link show veth0 | grep -o 'hairpin [a-z]*'
ip link set veth0 type bridge_slave hairpin yes
ip link set veth0 type bridge_slave hairpin
ip link set eth9 type bridge_slave hairpin on
