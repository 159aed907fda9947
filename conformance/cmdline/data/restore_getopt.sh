# iptables-restore hands each rule line to the same getopt_long parsing as the iptables
# command (iptables 1.8.9, do_command4): clustered and attached short options, unique
# prefixes of long options, `--opt=value`, and the options that take argv[optind-1].
printf '*filter\n-AINPUT -j DROP\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT --pro tcp --dp 22 --jum ACCEPT\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -p tcp --dport=23 -j ACCEPT\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -m state --st NEW -j ACCEPT\nCOMMIT\n' | iptables-restore --noflush
printf '*nat\n-A PREROUTING -p tcp --dport 80 -j DNAT --to 10.1.0.2:8080\nCOMMIT\n' | iptables-restore --noflush
printf '*nat\n-A PREROUTING -p tcp --d 80 -j DNAT --to 10.1.0.2\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -s1.2.3.4 -j DROP\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT --source=1.2.3.4 -j DROP\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -jACCEPT\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -Q\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -p udp --sp 53 -j ACCEPT\nCOMMIT\n' | iptables-restore --noflush
printf '*filter\n-A INPUT -p tcp -m comment --comm "two words" -j ACCEPT\nCOMMIT\n' | iptables-restore --noflush
iptables-save | grep -v '^#'
