from collections.abc import Callable, Generator

from pyroute2.netlink import nlmsg

class MarshalRtnl:
    def __init__(self) -> None: ...
    def parse(
        self,
        data: bytes,
        seq: int | None = ...,
        callback: Callable[..., object] | None = ...,
        skip_alien_seq: bool = ...,
    ) -> Generator[nlmsg]: ...
