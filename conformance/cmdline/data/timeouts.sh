# Commands that wait on the clock meet `timeout` as on the kernel: in a simulated run
# `timeout` counts virtual seconds like `sleep`, so a connect that the kernel leaves hanging
# (its SYN DROPped) is ended by an outer `timeout` (124), and nc -w gives up on its own;
# a listener killed in the background dies of the signal. (Not compared: DROP counters,
# which depend on whether a SYN retransmission races nc -w's deadline on the kernel, and
# `kill` right before `wait`, where the shell's "Terminated" depends on timing.)
ip netns add s
ip link add v0 type veth peer name v1 netns s
ip addr add 10.9.0.1/24 dev v0
ip link set v0 up
ip -n s addr add 10.9.0.2/24 dev v1
ip -n s link set v1 up
sleep 1
ip netns exec s iptables -A INPUT -p tcp --dport 80 -j DROP
timeout 2 nc -N 10.9.0.2 80 < /dev/null
timeout 2 nc -z 10.9.0.2 80
nc -w 1 -zv 10.9.0.2 80
nc -w 1 -zv 10.9.0.2 81
timeout 5 sh -c 'sleep 1; echo slept'
timeout 1 sh -c 'sleep 3; echo not printed'
timeout --preserve-status 1 sleep 3
timeout -s INT 1 sleep 3
timeout -s KILL 1 sleep 3
timeout -k 1 1 sleep 3
timeout x sleep 1
timeout 1 no-such-command
timeout
nsenter --net=/run/netns/s nc -l -p 8080 & listener=$!
sleep 1
kill $listener
sleep 1
wait $listener
ip netns del s
