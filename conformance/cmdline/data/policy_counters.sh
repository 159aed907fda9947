# Chain policy counters: iptables-nft gives a base chain counters only once its policy has
# been set (-P, or a policy line of iptables-restore); from then on the policy counts what it
# decides, -Z zeroes it, and a chain deleted and made again (-X) starts without.
ip link set lo up
iptables -L INPUT -v
ping -c1 -W1 127.0.0.1 > /dev/null
iptables -L INPUT -v
iptables -P OUTPUT DROP
ping -c1 -W1 127.0.0.1 > /dev/null
iptables -L OUTPUT -v
iptables -nvL OUTPUT
iptables -S -v
iptables-save -c | grep -v '^#'
iptables -P OUTPUT ACCEPT
ping -c1 -W1 127.0.0.1 > /dev/null
iptables -L OUTPUT -v -x
iptables -Z OUTPUT
iptables -L OUTPUT -v
printf '*filter\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [5:5]\nCOMMIT\n' | iptables-restore
ping -c1 -W1 127.0.0.1 > /dev/null
iptables -L -v
iptables -X
ping -c1 -W1 127.0.0.1 > /dev/null
iptables -L -v
iptables -P INPUT DROP
iptables -A FORWARD -j ACCEPT
iptables -X
iptables -S
