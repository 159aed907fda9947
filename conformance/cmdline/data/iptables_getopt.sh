# iptables' command line as getopt_long parses it (iptables 1.8.9): clustered short options,
# attached values, unique prefixes of long options (the global ones and those of the loaded
# match and target), ambiguous prefixes, and the options that take argv[optind-1].
iptables -nvL INPUT
iptables -vnL
iptables -nvLINPUT
iptables -nLv INPUT
iptables -L INPUT x
iptables -S -v INPUT
iptables -vS INPUT
iptables -tnat -S POSTROUTING
iptables -AINPUT -j DROP
iptables -A INPUT --pro tcp --dp 22 --jum ACCEPT
iptables -A INPUT -p tcp --dport=23 -j ACCEPT
iptables -A INPUT -m state --st NEW -j ACCEPT
iptables -A INPUT -m conntrack --ctst NEW -j ACCEPT
iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to 10.1.0.2:8080
iptables -t nat -A PREROUTING -p tcp --dport 81 -j DNAT --to-dest=10.1.0.2:8081
iptables -t nat -A POSTROUTING -o eth0 -j SNAT --to-s 1.1.1.1
iptables -t nat -A PREROUTING -p tcp --d 80 -j DNAT --to 10.1.0.2
iptables --lis
iptables --ver
iptables --line -nL INPUT
iptables -A INPUT -s1.2.3.4 -j DROP
iptables -A INPUT --source=1.2.3.4 -j DROP
iptables -A INPUT -jACCEPT
iptables -A INPUT -p tcp --dport=5 --jump=DROP
iptables -A INPUT -Q
iptables -A INPUT -s
iptables -S
iptables -t nat -S
