# iproute2's keyword abbreviations as learners type them (ip a, ip r s, ip l s dev X up, ip n,
# ip net…), and a veth's operstate when its peer goes down and up: LOWERLAYERDOWN with
# NO-CARRIER (the kernel applies carrier changes in linkwatch, asynchronously: `sleep 1`).
ip l a va type veth peer name vb
ip l s dev va up
ip l s vb up
ip a a 10.1.0.1/24 dev va
sleep 1
ip a
ip -br a s dev va
ip r s
ip r
ip ro li
ip n
ip l sh va
ip link set vb down
sleep 1
ip -br link
ip link show va
ip -j -br link show va
ip r
ip link set vb up
sleep 1
ip -br li
ip netns a x
ip net
ip -n x l
ip netns del x
ip ad fl dev va
ip -br a
