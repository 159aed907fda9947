"""Sysctls of a simulated namespace: shared defaults, per-namespace overrides.

Only keys the simulator knows exist (anything else is ENOENT, as a missing /proc/sys file);
ip_forward and conf.all.forwarding mirror each other like the kernel's inet_forward_change.

Layering: above the data (a namespace's sysctl overrides), part of the backend.
"""

from __future__ import annotations

import errno

from ctrnet.backends.sim.devices import Namespace
from ctrnet.backends.sim.world import CONF_DEFAULTS, SYSCTL_DEFAULTS
from ctrnet.errors import from_errno

_FORWARDING_KEYS = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding")


def _default(ns: Namespace, key: str) -> str | None:
    if key in SYSCTL_DEFAULTS:
        return SYSCTL_DEFAULTS[key]
    parts = key.split(".")
    if len(parts) == 5 and parts[:3] == ["net", "ipv4", "conf"] and parts[4] in CONF_DEFAULTS:
        scope = parts[3]
        if scope in ("all", "default") or scope in ns.devices:
            if parts[4] == "forwarding":
                return ns.sysctl.get("net.ipv4.ip_forward", "0")
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
    if key in _FORWARDING_KEYS:
        # inet_forward_change: ip_forward *is* conf.all.forwarding; the value (as written)
        # is copied to conf.default and every device.
        for stale in [k for k in ns.sysctl if k.startswith("net.ipv4.conf.")
                      and k.endswith(".forwarding")]:
            del ns.sysctl[stale]
        for k in _FORWARDING_KEYS:
            ns.sysctl[k] = text
        return
    if key.startswith("net.bridge.bridge-nf-"):
        text = "1" if number else "0"  # br_netfilter's proc handler stores a boolean
    ns.sysctl[key] = text
