#!/bin/bash
# Record the real tools' answers to session.txt as golden files (NAME.txt), in two throw-away
# namespaces: H plays "host", C plays "c1". IPv6 is disabled in both, as in every ctrnet world.
# Run as root from this directory: ./capture.sh   (needs iproute2 6.1, iputils, procps).
set -u
cd "$(dirname "$0")"
H=cmdl-cap-h-$$; C=cmdl-cap-c-$$
cleanup() { ip netns del "$H" 2>/dev/null; ip netns del "$C" 2>/dev/null; true; }
trap cleanup EXIT INT TERM
ip netns add "$H"
ip netns exec "$H" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
while read -r first rest; do
    case "$first" in ''|'#'*) continue;; esac
    name=""
    if [[ "$first" == @* ]]; then name=${first#@}; name=${name#prefix:}; read -r first rest <<<"$rest"; fi
    ns=$H; [ "$first" = c1 ] && ns=$C
    cmd=$(sed -E "s/(^| )c1( |$)/\1$C\2/g" <<<"$rest")
    # `ip netns add|del` change /run/netns, which `ip netns exec` remounts privately: run
    # those from outside; everything else runs inside the namespace playing NS.
    wrap=(ip netns exec "$ns"); [[ "$cmd" == "ip netns "[ad]* ]] && wrap=()
    # shellcheck disable=SC2086
    "${wrap[@]}" $cmd >/tmp/cap.out.$$ 2>/tmp/cap.err.$$ </dev/null; rc=$?
    if [ "$rest" = "ip netns add c1" ]; then
        ip netns exec "$C" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
    if [ -z "$name" ]; then
        [ $rc -ne 0 ] && echo "setup step failed ($rc): $first $rest: $(cat /tmp/cap.err.$$)" >&2
        continue
    fi
    {
        echo "\$ $first $rest"
        cat /tmp/cap.out.$$
        echo "@@ stderr @@"
        cat /tmp/cap.err.$$
        echo "@@ exit $rc @@"
    } | sed -e "s/$C/c1/g" -e "s/link-netns $H/link-netnsid 0/g" >"$name.txt"
done <session.txt
rm -f /tmp/cap.out.$$ /tmp/cap.err.$$
# iproute2 resolves a peer's netnsid by asking every namespace under /run/netns; one deleted
# meanwhile by another program makes it print this spurious error: capture again if it shows.
if grep -l "Peer netns reference is invalid" ./*.txt; then
    echo "namespace churn during capture: run again" >&2
    exit 1
fi
