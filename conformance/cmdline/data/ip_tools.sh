# The ip, bridge, sysctl and ping forms container-network scripts commonly use, each with
# its output and exit status (see the coverage list).
ip netns add ctr
ip netns list
ip -j netns list
ip link add veth-h type veth peer name veth-c netns ctr
ip link add name br0 type bridge stp_state 0 forward_delay 0 ageing_time 3000
ip link set br0 up
ip link set veth-h master br0
ip link set veth-h up
ip link set veth-h mtu 1400
ip link show veth-h
ip -br link show
ip -j link show veth-h
ip addr add 10.20.0.1/24 dev br0
ip addr show dev br0
ip -4 addr show
ip -j -4 addr show dev br0
ip -n ctr link set veth-c name eth0
ip -n ctr link set eth0 address 02:00:00:00:00:02
ip -n ctr link set eth0 up
ip -n ctr link set lo up
ip -n ctr addr add 10.20.0.2/24 dev eth0
ip -n ctr route add default via 10.20.0.1
ip -n ctr route show
ip -n ctr route get 10.20.0.1
ip -n ctr -j route show
ip -n ctr route replace default via 10.20.0.1 dev eth0
ip -n ctr route del default
ip -n ctr route add default via 10.20.0.1
ip -n ctr -br addr
sleep 1
ip netns exec ctr ping -c 2 -i 0.2 -W 1 10.20.0.1
ip netns exec ctr ping -c 1 -q 10.20.0.1
ip netns exec ctr ping -c 1 -W 1 -I eth0 10.20.0.1
ip netns exec ctr ping -c 1 -W 1 10.20.0.99
ip -n ctr neigh show
ip neigh show dev br0
bridge link show
bridge -j link show
bridge fdb show br br0 | grep -v permanent
bridge fdb add 02:00:00:00:00:09 dev veth-h master static
bridge fdb show dev veth-h
bridge fdb del 02:00:00:00:00:09 dev veth-h master
bridge -n ctr link show
sysctl net.ipv4.ip_forward net.ipv4.conf.all.forwarding
sysctl -w net.ipv4.ip_forward=1
sysctl -n net.ipv4.conf.all.forwarding
sysctl -q -w net.ipv4.conf.br0.accept_local=1
sysctl net.ipv4.conf.br0.accept_local
sysctl net.bridge.bridge-nf-call-iptables
sysctl net.ipv6.conf.all.disable_ipv6
ip netns exec ctr sysctl net.ipv4.ip_forward
printf 'link set br0 down\nlink set br0 up\naddr add 10.20.1.1/24 dev br0\n' > batch.txt
ip -batch batch.txt
ip -br addr show dev br0
ip addr del 10.20.1.1/24 dev br0
ip -n ctr addr flush dev eth0
ip -n ctr -br addr
ip -n ctr neigh flush dev eth0
ip link set veth-h nomaster
bridge link show
ip link del br0
ip link del veth-h
ip -n ctr link show
ip netns delete ctr
ip netns list
