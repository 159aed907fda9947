# bridge fdb add|replace|del with the entry kinds bridge/fdb.c asks for (default and
# permanent: a local entry, static, dynamic) and what each does to forwarding: a permanent
# entry sends frames for that MAC up to the bridge instead of out of the port; static ones
# forward and never age; dynamic ones age out like learned ones. The bridge ages entries
# after 30 s until the ageing check, then after 1 s: with 1 s throughout, whether a dynamic
# entry is listed (and as `stale`) would depend on how fast the commands before it ran.
ip netns add a
ip netns add b
ip link add br0 type bridge ageing_time 3000
ip link set br0 up
ip link add va type veth peer name eth0 netns a
ip link add vb type veth peer name eth0 netns b
ip link set va master br0
ip link set vb master br0
ip link set va up
ip link set vb up
ip -n a addr add 10.1.0.2/24 dev eth0
ip -n b addr add 10.1.0.3/24 dev eth0
ip -n a link set eth0 up
ip -n b link set eth0 up
ip -n b link set eth0 address 02:00:00:00:00:0b
ip -n a link set eth0 address 02:00:00:00:00:0a
sleep 1
bridge fdb add 02:00:00:00:00:01 dev va master
bridge fdb add 02:00:00:00:00:02 dev va master static
bridge fdb add 02:00:00:00:00:03 dev va master dynamic
bridge fdb add 02:00:00:00:00:04 dev va master permanent
bridge fdb add 02:00:00:00:00:04 dev vb master
bridge fdb replace 02:00:00:00:00:04 dev vb master
bridge fdb app 02:00:00:00:00:05 dev vb master
bridge fdb show br br0 | grep 02:00:00:00:00:0 | sort
bridge fdb add 02:00:00:00:00:0b dev va master
ip netns exec a ping -c1 -W1 10.1.0.3
bridge fdb replace 02:00:00:00:00:0b dev vb master static
ip netns exec a ping -c1 -W1 10.1.0.3 > /dev/null
bridge fdb show br br0 | grep 02:00:00:00:00:0 | sort
bridge fdb del 02:00:00:00:00:0b dev va master
bridge fdb del 02:00:00:00:00:0b dev vb master
bridge fdb replace 02:00:00:00:00:0b dev vb master dynamic
ip link set br0 type bridge ageing_time 100
sleep 3
bridge fdb show br br0 | grep 02:00:00:00:00:0 | sort
bridge fdb add 02:00:00:00:00:06 dev va master temp
bridge fdb add 02:00:00:00:00:07 dev va master local
bridge fdb add 02:00:00:00:00:08 dev va master permanent static
bridge fdb add 02:00:00:00:00:09 dev va master dynamic permanent
bridge fdb show br br0 | grep 02:00:00:00:00:0 | sort
ip netns del a
ip netns del b
