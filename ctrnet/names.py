"""The one name rule: which names ctrnet accepts for each kind of object, checked at the
command line and again in the model before a name becomes part of a path.

Each kind takes what the kernel (or iproute2) accepts for the object, minus anything that can
be a path or an option: never empty, never "." or "..", no "/", no NUL, no leading "-", no
whitespace or control character (a name is printed on one line and used as one file name).

========== ====================================== ==========================================
kind       rule                                   why
========== ====================================== ==========================================
network    1-64 of ``A-Z a-z 0-9 _ . -``,         Docker's rule; it names
           starting with a letter or digit        ``networks/NAME.json``, ``endpoints/NAME/``
                                                  and ``ipam/NAME/`` in the state directory
container  the same rule as a network             ctrnet's records are
                                                  ``endpoints/NETWORK/CONTAINER.json``
netns      1-255 bytes (NAME_MAX), no "/",        ``ip netns add`` (is_valid_netns_name()):
           not "." or "..", printable, no         the name is a file under /run/netns;
           whitespace, no leading "-"             a namespace ctrnet did not make may be named
ifname     1-15 bytes (IFNAMSIZ 16 with the NUL), the kernel's dev_valid_name(); its isspace()
           not "." or "..", no "/" or ":", no     also counts byte 0xA0, so a UTF-8 name
           whitespace, printable, no leading "-"  holding that byte is refused as well
bridge     the ifname rule                        a bridge is a net device
========== ====================================== ==========================================
"""

from __future__ import annotations

import re
from enum import StrEnum

from ctrnet.errors import InvalidConfig

__all__ = [
    "IFNAMSIZ",
    "MAX_IFNAME",
    "MAX_NAME",
    "MAX_NETNS",
    "InvalidName",
    "Kind",
    "bridge",
    "check",
    "container",
    "endpoint",
    "ifname",
    "netns",
    "network",
    "shown",
]

#: The kernel's IFNAMSIZ counts the terminating NUL: a device name has at most 15 bytes.
IFNAMSIZ = 16
MAX_IFNAME = IFNAMSIZ - 1
#: Network and container names (Docker's limit is 64 too).
MAX_NAME = 64
#: NAME_MAX: a namespace name is one file name under /run/netns.
MAX_NETNS = 255

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
#: Bytes the kernel's isspace() is true for (lib/ctype.c marks 0xA0, NBSP, as a space).
_KERNEL_SPACE = frozenset(b" \t\n\v\f\r\xa0")


class Kind(StrEnum):
    NETWORK = "network"
    CONTAINER = "container"
    NETNS = "netns"
    IFNAME = "ifname"
    BRIDGE = "bridge"


_WHAT = {
    Kind.NETWORK: "network name",
    Kind.CONTAINER: "container name",
    Kind.NETNS: "namespace name",
    Kind.IFNAME: "interface name",
    Kind.BRIDGE: "bridge name",
}
_WHAT_JA = {
    Kind.NETWORK: "ネットワーク名",
    Kind.CONTAINER: "コンテナ名",
    Kind.NETNS: "名前空間の名前",
    Kind.IFNAME: "インターフェース名",
    Kind.BRIDGE: "ブリッジ名",
}


class InvalidName(InvalidConfig):
    """A name breaks the rule of its kind; the message names the kind, the value and why
    (`reason` in English, `ja` in Japanese: what follows "は")."""

    def __init__(self, kind: Kind, value: object, reason: str, *, ja: str) -> None:
        super().__init__(f"{_WHAT[kind]} {shown(value)} {reason}",
                         ja=f"{_WHAT_JA[kind]} {shown(value)} は{' ' * ja[:1].isascii()}{ja}")
        self.kind = kind
        self.value = value
        self.reason = reason


def shown(value: object, limit: int = 40) -> str:
    """`value` as it goes into a one-line message: repr (escapes newlines and NULs), cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


def _common(kind: Kind, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidName(kind, value, "is not a string", ja="文字列ではありません")
    if not value:
        raise InvalidName(kind, value, "is empty", ja="空です")
    if "\0" in value:
        raise InvalidName(kind, value, "contains a NUL byte", ja="NUL バイトを含んでいます")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidName(kind, value, "is not valid UTF-8",
                          ja="正しい UTF-8 ではありません") from None
    if size > limit:
        raise InvalidName(kind, value, f"is longer than {limit} bytes ({size})",
                          ja=f"{limit} バイトを超えています（{size} バイト）")
    if value in (".", ".."):
        raise InvalidName(kind, value, "is a path component, not a name",
                          ja="パスの要素であり、名前ではありません")
    if "/" in value:
        raise InvalidName(kind, value, "must not contain '/'", ja="'/' を含んではいけません")
    if value.startswith("-"):
        raise InvalidName(kind, value, "must not start with '-' (it would read as an option)",
                          ja="'-' で始まってはいけません（オプションと読まれます）")
    return value


def _check_device(kind: Kind, value: str) -> None:
    if ":" in value:
        raise InvalidName(kind, value, "must not contain ':' (the kernel keeps it for aliases)",
                          ja="':' を含んではいけません（カーネルがエイリアス用に使います）")
    if any(byte in _KERNEL_SPACE for byte in value.encode()):
        raise InvalidName(kind, value, "must not contain whitespace (dev_valid_name())",
                          ja="空白を含んではいけません（dev_valid_name()）")
    if not value.isprintable():
        raise InvalidName(kind, value, "must not contain control characters",
                          ja="制御文字を含んではいけません")


def check(kind: Kind | str, value: object) -> str:
    """`value` if it is a valid name of `kind`, else InvalidName (an InvalidConfig, EINVAL)."""
    kind = Kind(kind)
    if kind in (Kind.NETWORK, Kind.CONTAINER):
        name = _common(kind, value, MAX_NAME)
        if not _NAME_RE.fullmatch(name):
            raise InvalidName(kind, name, "must be of A-Z a-z 0-9 _ . - and start with a "
                                          "letter or digit",
                              ja="A-Z a-z 0-9 _ . - だけからなり、英字か数字で始まる"
                                 "必要があります")
    elif kind is Kind.NETNS:
        name = _common(kind, value, MAX_NETNS)
        if any(c.isspace() for c in name):
            raise InvalidName(kind, name, "must not contain whitespace",
                              ja="空白を含んではいけません")
        if not name.isprintable():
            raise InvalidName(kind, name, "must not contain control characters",
                              ja="制御文字を含んではいけません")
    else:
        name = _common(kind, value, MAX_IFNAME)
        _check_device(kind, name)
    return name


def network(value: object) -> str:
    return check(Kind.NETWORK, value)


def container(value: object) -> str:
    return check(Kind.CONTAINER, value)


def netns(value: object) -> str:
    return check(Kind.NETNS, value)


def ifname(value: object) -> str:
    return check(Kind.IFNAME, value)


def bridge(value: object) -> str:
    return check(Kind.BRIDGE, value)


def endpoint(network_name: object, container_name: object) -> tuple[str, str]:
    """An endpoint's key, (network, container), each checked by its own rule."""
    return network(network_name), container(container_name)
