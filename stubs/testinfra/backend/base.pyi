from typing import Any

class CommandResult:
    rc: int
    stdout: str
    stderr: str
    command: bytes

class BaseBackend:
    NAME: str

    def __init__(self, hostname: str, sudo: bool = ..., sudo_user: str | None = ...,
                 *args: Any, **kwargs: Any) -> None: ...
    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult: ...
    def get_command(self, command: str, *args: str) -> str: ...
    def run_local(self, command: str, *args: str) -> CommandResult: ...
    def encode(self, data: str) -> bytes: ...
