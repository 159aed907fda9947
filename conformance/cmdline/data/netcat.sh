# nc as OpenBSD netcat (Debian's netcat-openbsd): a listener sends its stdin back to the
# client (bidirectional), accepts one connection, -N on either side; -v lines with -n
# ("Listening on", "Bound on", "Connection received on") and without -n (the reverse lookup
# fails in a namespace that reaches no name server); a client's source port with -p.
ip netns add srv
ip link add veth0 type veth peer name veth1 netns srv
ip addr add 10.9.0.1/24 dev veth0
ip link set veth0 up
ip -n srv addr add 10.9.0.2/24 dev veth1
ip -n srv link set veth1 up
echo "reply from server" | ip netns exec srv nc -nv -l -p 8080 > nc.out 2> nc.err &
sleep 2
echo "hello over tcp" | nc -N -v -p 40000 10.9.0.2 8080
wait
cat nc.out
cat nc.err
echo "second" | ip netns exec srv nc -l 8081 > nc.out &
sleep 2
echo "hi" | nc -N 10.9.0.2 8081
wait
cat nc.out
ip netns exec srv nc -lv 10.9.0.2 8082 > nc.out 2>&1 &
sleep 2
nc -z -v 10.9.0.2 8082
wait
cat nc.out
ip netns exec srv nc -lnv 8083 > nc.out 2>&1 &
sleep 2
nc -z -p 40001 10.9.0.2 8083
nc -zv 10.9.0.2 8083
wait
cat nc.out
ip netns exec srv nc -N -l 8084 < /dev/null > nc.out 2>&1 &
sleep 2
echo "x" | nc -v -w 2 10.9.0.2 8084
wait
cat nc.out
ip netns exec srv nc -lnvu 8085 > nc.out 2>&1 & listener=$!
sleep 2
echo dgram | nc -u -w1 -p 40002 10.9.0.2 8085
kill $listener
wait
cat nc.out
ip netns del srv
