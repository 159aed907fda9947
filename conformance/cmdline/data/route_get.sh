# ip route get: the cache flags of a broadcast (<local,brd>) and a local route, 'from' a local
# source (no src shown) or from one that is not ours (ENETUNREACH), via a gateway, -j.
ip link add va type veth peer name vb
ip addr add 10.1.0.1/24 dev va
ip link set va up
ip link set vb up
ip link set lo up
ip route add 10.2.0.0/24 via 10.1.0.254
ip route get 10.1.0.255
ip route get 255.255.255.255
ip route get 10.1.0.1
ip route get 127.0.0.1
ip route get 10.1.0.2 from 10.1.0.1
ip route get 10.2.0.5 from 10.1.0.1
ip route get 10.1.0.1 from 10.1.0.1
ip route get 10.1.0.2 from 10.1.0.9
ip route get 10.1.0.2 from bogus
ip -j route get 10.1.0.255
ip -j route get 10.2.0.5 from 10.1.0.1
ip route get 198.51.100.1
