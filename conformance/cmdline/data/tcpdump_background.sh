# tcpdump as the guide runs it, in the background while other commands send: it captures
# what they send until it is killed (then prints its packets and counts), until -c packets,
# or until an outer timeout ends it; `tcpdump -i IF -n`, with -t for stable output.
ip netns add c1
ip link add ctr0 type bridge
ip link set ctr0 up
ip addr add 172.20.0.1/24 dev ctr0
ip link add veth0 type veth peer name eth0 netns c1
ip link set veth0 master ctr0
ip link set veth0 up
ip -n c1 addr add 172.20.0.2/24 dev eth0
ip -n c1 link set eth0 up
ip -n c1 link set eth0 address 02:00:00:00:00:02
sleep 1
tcpdump -i ctr0 -n -t > cap.txt 2> cap.err & dump=$!
sleep 1
ip netns exec c1 ping -c 2 -i 0.2 172.20.0.1 > /dev/null
sleep 1
kill $dump
wait $dump
cat cap.txt
cat cap.err
tcpdump -t -n -c 2 -i veth0 icmp > cap.txt 2>&1 &
sleep 1
ip netns exec c1 ping -c 1 172.20.0.1 > /dev/null
wait
cat cap.txt
timeout 2 tcpdump -i veth0 -n -t host 172.20.0.99
tcpdump -i nope -n
ip netns del c1
