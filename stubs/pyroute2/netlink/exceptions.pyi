class NetlinkError(Exception):
    """An NLMSG_ERROR from the kernel: `code` is the positive errno."""

    code: int

    def __init__(self, code: int, msg: str | None = ...) -> None: ...
