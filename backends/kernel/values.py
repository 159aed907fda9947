"""Check and normalise the values a caller passes before they are encoded for the kernel.

Only what cannot reach the kernel at all is refused here (a string that is no address, a
MAC pyroute2 could not encode), plus what would reach outside the world (a sysctl that is
not per namespace); everything the kernel validates itself is left to the kernel.
"""

from __future__ import annotations

import errno
import ipaddress

from ctrnet.errors import NotFound, from_errno


def require_name(names: dict[int, str], ifname: str | None, ns: str) -> None:
    if ifname is not None and ifname not in names.values():
        raise NotFound(f"device {ifname!r} not found in namespace {ns!r}", errno.ENODEV)


def address(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise from_errno(errno.EINVAL, f"not an IPv4 address: {text!r}") from None


def mac(text: str) -> str:
    """A MAC as "aa:bb:cc:dd:ee:ff"; anything else is refused before the kernel, as ip does."""
    octets = text.split(":")
    if len(octets) != 6 or not all(1 <= len(o) <= 2 and all(c in _HEX for c in o)
                                   for o in octets):
        raise from_errno(errno.EINVAL, f"not a MAC address: {text!r}")
    return ":".join(o.zfill(2) for o in octets).lower()


_HEX = frozenset("0123456789abcdefABCDEF")


def interface(cidr: str) -> tuple[str, int]:
    """("10.0.0.2", 24) from "10.0.0.2/24"; a bare address is a /32, as with `ip addr add`."""
    ip, slash, length = cidr.partition("/")
    if not slash:
        return address(ip), 32
    if not length.isdigit() or int(length) > 32:
        raise from_errno(errno.EINVAL, f"not an IPv4 prefix: {cidr!r}")
    return address(ip), int(length)


def destination(dst: str) -> tuple[str, int]:
    if dst == "default":
        return "0.0.0.0", 0
    return interface(dst)


def check_sysctl_key(key: str) -> None:
    # Only net.* sysctls belong to a namespace; anything else is the machine's own.
    parts = key.split(".")
    if parts[0] != "net" or len(parts) < 2 or any(not p or "/" in p for p in parts):
        raise from_errno(errno.EPERM, f"sysctl {key!r} is not a per-namespace net.* key")
