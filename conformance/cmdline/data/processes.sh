# Processes as on a real machine: a listener started in the background is listening by the
# time a command runs after `sleep`; `wait` waits for it; data passes through nc (OpenBSD).
ip netns add srv
ip link add veth0 type veth peer name veth1 netns srv
ip addr add 10.9.0.1/24 dev veth0
ip link set veth0 up
ip -n srv addr add 10.9.0.2/24 dev veth1
ip -n srv link set veth1 up
ip netns exec srv nc -l -p 8080 > nc.out &
sleep 1
echo "hello over tcp" | nc -N -v 10.9.0.2 8080
wait
cat nc.out
nc -z 10.9.0.2 8081
nc -zv 10.9.0.2 8081
ip netns exec srv iptables -A INPUT -p tcp --dport 9090 -j DROP
nc -w 1 -z 10.9.0.2 9090
nc -w 1 -zv 10.9.0.2 9090
ip netns exec srv iptables -A INPUT -p tcp --dport 9091 -j REJECT --reject-with tcp-reset
nc -z 10.9.0.2 9091
ip netns exec srv sh -c 'ip -br addr; echo "in $(ip -br link show veth1 | cut -d" " -f1)"'
ip netns exec srv ip netns exec srv ip route
ip netns exec srv sh -c "ip netns identify; ip netns exec srv ip netns identify"
ip netns identify
nsenter --net=/var/run/netns/srv ip -br link show lo
timeout 5 sh -c 'sleep 1; echo slept'
ip netns exec srv ping -c 1 -W 1 10.9.0.1
ip netns exec srv ping -c 2 -q 10.9.0.1
ip neigh show dev veth0
ip netns del srv
