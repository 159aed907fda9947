# Mistakes a learner makes: the simulator must refuse them with the real tools' words and
# exit statuses. Compared line by line with the kernel's answers (conformance/cmdline/test_scripts.py).
ip netns add dup
ip netns add dup
ip link set nosuch up
ip link add averyveryverylongname type bridge
ip link add name br0 type bridge
ip addr add 10.0.0.1/24 dev br0
ip addr add 10.0.0.1/24 dev br0
ip route add default via 192.0.2.1
ip link set br0 up
ip route add 198.51.100.0/24 via 10.0.0.99 dev nosuch
ip netns exec nosuch ip link
ip netns del nosuch
iptables -A INPUT --bogus 1 -j ACCEPT
iptables -A NOCHAIN -j ACCEPT
iptables -t nosuch -L
iptables -P INPUT RETURN
iptables -D INPUT -s 9.9.9.9 -j ACCEPT
ebtables -A FORWARD -s zz -j DROP
sysctl net.ipv4.nosuch
sysctl -w net.ipv4.ip_forward=1 net.ipv4.conf.all.forwarding
ping -c 1 -W 1 192.0.2.1
bridge fdb add 02:00:00:00:00:01 dev nosuch master
ip netns exec dup nosuchcommand
ip netns exec dup
ip -n nosuch link show
nsenter --net=/var/run/netns/nosuch true
ip netns exec dup sh -c 'exit 9'
tc qdisc del dev br0 root
nsenter --net=/var/run/netns/dup nosuchcommand
ip netns exec dup /etc/passwd
