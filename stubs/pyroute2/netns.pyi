def create(netns: str, flags: int = ..., libc: object = ...) -> None:
    """Create a named network namespace (/run/netns/NAME) in a child process."""
