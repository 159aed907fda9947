"""Sysctls of a simulated namespace: shared defaults, per-namespace overrides.

Only keys the simulator knows exist (anything else is ENOENT, as a missing /proc/sys file);
ip_forward and conf.all.forwarding mirror each other like the kernel's inet_forward_change.
The ICMP rate-limit sysctls take what their proc handlers take (EINVAL otherwise), and
icmp_ratelimit reads back as the kernel's does: milliseconds rounded up to whole jiffies.

Layering: above the data (a namespace's sysctl overrides), part of the backend.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ctrnet.backends.sim.devices import Namespace
from ctrnet.backends.sim.icmplimit import (
    MSGS_BURST,
    MSGS_PER_SEC,
    RATELIMIT,
    RATEMASK,
    jiffies_to_ms,
    ms_to_jiffies,
)
from ctrnet.backends.sim.routing import INHERITED, devconf_setall
from ctrnet.backends.sim.world import CONF_DEFAULTS, SYSCTL_DEFAULTS
from ctrnet.errors import NotModelled, from_errno

_FORWARDING_KEYS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding")
INT_MAX = 2**31 - 1
ULONG_MAX = 2**64 - 1


def _dointvec(number: int, low: int = -INT_MAX - 1) -> int | None:
    """proc_dointvec(_minmax with extra1 = `low`): the value stored, or None (EINVAL)."""
    return number if low <= number <= INT_MAX else None


def _ms_jiffies(number: int) -> int | None:
    """proc_dointvec_ms_jiffies: what reads back (in ms) after writing `number` ms, or None
    (EINVAL). msecs_to_jiffies takes an unsigned int (the value is cut to 32 bits) and
    answers MAX_JIFFY_OFFSET, more than INT_MAX jiffies, for one above INT_MAX; it rounds up
    to whole jiffies, which read back as whole milliseconds (4 ms each at HZ=250)."""
    if abs(number) > ULONG_MAX:
        return None
    ms = (number % 2**64) & 0xFFFFFFFF
    if ms > INT_MAX:
        return None
    return jiffies_to_ms(ms_to_jiffies(ms))


def _dointvec_min0(number: int) -> int | None:
    return _dointvec(number, 0)


def _ttl(number: int) -> int | None:
    """ip_default_ttl: proc_dointvec_minmax between 1 and 255."""
    return number if 1 <= number <= 255 else None


def _dou8vec_bool(number: int) -> int | None:
    """proc_dou8vec_minmax between SYSCTL_ZERO and SYSCTL_ONE."""
    return number if number in (0, 1) else None


#: Sysctls whose proc handler bounds or converts what is written.
_HANDLERS: dict[str, Callable[[int], int | None]] = {
    RATELIMIT: _ms_jiffies,
    RATEMASK: _dointvec,
    MSGS_PER_SEC: _dointvec_min0,
    MSGS_BURST: _dointvec_min0,
    "net.ipv4.icmp_echo_ignore_all": _dou8vec_bool,
    "net.ipv4.icmp_echo_ignore_broadcasts": _dou8vec_bool,
    "net.ipv4.ip_default_ttl": _ttl,
}

#: What a value other than the default would change that the simulator does not model: the
#: write is refused (NotModelled) rather than stored and ignored. Keyed by the whole key, or by
#: the last part of a net.ipv4.conf.{all,default,IFACE} key. Not listed, as no value can
#: change an answer of the simulator: bridge-nf-call-ip6tables and bridge-nf-call-arptables
#: (no IPv6 frame ever exists in it, and ip6tables, arptables and nft are refused, so no such
#: rule can exist).
_NOT_MODELLED: dict[str, tuple[str, str]] = {
    "net.ipv4.ip_default_ttl": (
        "a default TTL other than 64", "64 以外の既定 TTL"),
    "net.ipv4.icmp_echo_ignore_broadcasts": (
        "answering echo requests sent to a broadcast or multicast address",
        "ブロードキャスト・マルチキャスト宛てのエコー要求への応答"),
    "net.ipv6.conf.all.forwarding": ("IPv6 forwarding", "IPv6 の転送"),
    "disable_ipv6": ("IPv6 (the interfaces would get IPv6 addresses)",
                     "IPv6 (インターフェースに IPv6 アドレスが付きます)"),
    "rp_filter": ("reverse path filtering", "逆経路フィルタ (rp_filter)"),
    "route_localnet": ("routing of 127.0.0.0/8 addresses", "127.0.0.0/8 のアドレスの経路制御"),
    "proxy_arp": ("proxy ARP", "プロキシ ARP"),
    "arp_ignore": ("ARP replies other than arp_ignore 0", "arp_ignore 0 以外の ARP 応答"),
    "arp_announce": ("ARP source selection other than arp_announce 0",
                     "arp_announce 0 以外の ARP 送信元の選択"),
    "arp_accept": ("entries made from unsolicited ARP", "要求していない ARP からのエントリ作成"),
    "promote_secondaries": ("promotion of secondary addresses",
                            "セカンダリアドレスの昇格"),
    "accept_local": ("accept_local on conf.default (what devices inherit from it)",
                     "conf.default の accept_local (デバイスが引き継ぐ値)"),
}


def _not_modelled(ns: Namespace, key: str, number: int) -> tuple[str, str] | None:
    """What writing `number` to `key` would change that the simulator does not model (in
    English and Japanese), or None when it models the result (or nothing can differ)."""
    parts = key.split(".")
    conf = len(parts) == 5 and parts[2] == "conf"
    leaf = parts[4] if conf else key
    what = _NOT_MODELLED.get(key) or (_NOT_MODELLED.get(leaf) if conf else None)
    if conf and parts[1] == "ipv4" and leaf == "forwarding" and parts[3] == "default":
        # The kernel copies conf.default.forwarding to devices made later; the simulator
        # gives them ip_forward's value, which ip_forward's writes keep equal to it.
        if str(number) != _default(ns, "net.ipv4.ip_forward"):
            return ("conf.default.forwarding apart from ip_forward",
                    "ip_forward と異なる conf.default.forwarding")
        return None
    if what is None:
        return None
    if leaf == "accept_local" and parts[3] != "default":
        return None  # modelled: ip_rcv reads conf.all and conf.IFACE
    if leaf == "disable_ipv6":
        return what if number == 0 else None  # any non-zero value disables IPv6
    default = CONF_DEFAULTS[leaf] if conf and parts[1] == "ipv4" else SYSCTL_DEFAULTS[key]
    return what if str(number) != default else None


def _default(ns: Namespace, key: str) -> str | None:
    if key in SYSCTL_DEFAULTS:
        return SYSCTL_DEFAULTS[key]
    parts = key.split(".")
    if len(parts) == 5 and parts[:3] == ["net", "ipv4", "conf"] and parts[4] in CONF_DEFAULTS:
        scope = parts[3]
        if scope in ("all", "default") or scope in ns.devices:
            if parts[4] == "forwarding":
                return ns.sysctl.get("net.ipv4.ip_forward", "0")
            if scope != "all":
                # devinet_copy_dflt_conf: a device's value is conf.default's until written.
                return ns.sysctl.get(f"net.ipv4.conf.default.{parts[4]}", CONF_DEFAULTS[parts[4]])
            return CONF_DEFAULTS[parts[4]]
    if len(parts) == 5 and parts[:3] == ["net", "ipv6", "conf"] and parts[4] == "disable_ipv6":
        if parts[3] in ns.devices:
            return "1"
    return None


def sysctl_get(ns: Namespace, key: str) -> str:
    value = ns.sysctl.get(key)
    if value is not None:
        return value
    default = _default(ns, key)
    if default is None:
        raise from_errno(errno.ENOENT, f"no sysctl {key!r}")
    return default


def sysctl_set(ns: Namespace, key: str, value: str) -> None:
    if _default(ns, key) is None:
        raise from_errno(errno.ENOENT, f"no sysctl {key!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise from_errno(errno.EINVAL, f"{key}: {value!r} is not an integer") from None
    text = str(number)
    handler = _HANDLERS.get(key)
    if handler is not None:
        stored = handler(number)
        if stored is None:
            raise from_errno(errno.EINVAL, f"{key}: {value!r} is out of range")
        text = str(stored)
    refused = _not_modelled(ns, key, number)
    if refused is not None:
        raise NotModelled(
            f"{key}={text}: the simulator does not model {refused[0]}",
            ja=f"{key}={text}: シミュレーターは{refused[1]}を再現しません")
    if key in _FORWARDING_KEYS:
        # inet_forward_change: ip_forward *is* conf.all.forwarding; the value (as written)
        # is copied to conf.default and every device.
        for stale in [k for k in ns.sysctl if k.startswith("net.ipv4.conf.")
                      and k.endswith(".forwarding")]:
            del ns.sysctl[stale]
        for k in _FORWARDING_KEYS:
            ns.sysctl[k] = text
        return
    if key.startswith("net.ipv4.conf.default.") and key.rsplit(".", 1)[1] in INHERITED:
        # devinet_copy_dflt_conf reaches only the devices whose values are not their own yet:
        # not those that have (had) an IPv4 address (ipv4_devconf_setall).
        for dev in ns.devices.values():
            if dev.addrs:
                devconf_setall(dev)
    if key.startswith("net.bridge.bridge-nf-"):
        text = "1" if number else "0"  # br_netfilter's proc handler stores a boolean
    ns.sysctl[key] = text
