from collections.abc import Iterator
from typing import Any

NETLINK_ROUTE: int
NLM_F_ACK: int
NLM_F_CREATE: int
NLM_F_DUMP: int
NLM_F_EXCL: int
NLM_F_MULTI: int
NLM_F_REQUEST: int
NLMSG_DONE: int
NLMSG_ERROR: int

class nlmsg_base:
    """A netlink message or attribute: fields by key, NLA attributes by name. Field values
    depend on the message class, so they are Any (as pyroute2 itself types them)."""

    data: bytes

    def __init__(self, data: bytes | None = ..., offset: int = ..., length: int | None = ...,
                 parent: nlmsg_base | None = ...) -> None: ...
    def __getitem__(self, key: str) -> Any: ...
    def __setitem__(self, key: str, value: Any) -> None: ...
    def __iter__(self) -> Iterator[str]: ...
    def get(self, key: str, default: Any = ...) -> Any: ...
    def get_attr(self, attr: str, default: Any = ...) -> Any: ...
    def encode(self) -> None: ...
    def decode(self) -> None: ...

class nlmsg(nlmsg_base): ...
