"""What every `ip` object shares: the global options, the error texts and exit statuses of
iproute2 6.1 (`Cannot find device`, `RTNETLINK answers: …`, `Error: argument … is wrong`),
the translation of a ctrnet error (which carries the kernel's errno) into them, and JSON output
in iproute2's compact form.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported
from ctrnet.errors import BackendError, CtrnetError
from ctrnet.types import Link

#: Exit status iproute2 gives when the kernel refuses a request (rtnl_talk() failing).
RTNL_STATUS = 2


@dataclass(frozen=True)
class IpOptions:
    """The global options of `ip` this front-end honours."""

    details: bool = False
    brief: bool = False
    json: bool = False
    oneline: bool = False
    inet_only: bool = False  # -4 / -f inet


def rtnl_answer(err: CtrnetError) -> str:
    return f"RTNETLINK answers: {os.strerror(err.errno or 22)}\n"


def fail_rtnl(err: CtrnetError, extack: dict[int, str] | None = None) -> CommandFailed:
    """The kernel refused: its extack text (`Error: …`) where the kernel sends one for this
    request and errno, else `RTNETLINK answers: <strerror>`; exit 2 either way."""
    if extack and err.errno in extack:
        return CommandFailed(f"Error: {extack[err.errno]}\n", RTNL_STATUS)
    return CommandFailed(rtnl_answer(err), RTNL_STATUS)


@contextmanager
def kernel_call(extack: dict[int, str] | None = None) -> Iterator[None]:
    """Run backend calls, turning a ctrnet error into the iproute2 failure it prints."""
    try:
        yield
    except BackendError as err:
        raise fail_rtnl(err, extack) from err
    except CtrnetError as err:
        raise fail_rtnl(err, extack) from err


def no_device(name: str) -> CommandFailed:
    return CommandFailed(f'Cannot find device "{name}"\n', 1)


def invarg(message: str, arg: str) -> CommandFailed:
    """iproute2's invarg(): messages of this kind end with their own newline, so two show."""
    return CommandFailed(f'Error: argument "{arg}" is wrong: {message}\n', 255, fatal=True)


def need_dev() -> CommandFailed:
    return CommandFailed('Not enough information: "dev" argument is required.\n', 255, fatal=True)


def incomplete() -> CommandFailed:
    return CommandFailed('Command line is not complete. Try option "help"\n', 255, fatal=True)


def unknown_command(word: str, obj: str) -> CommandFailed:
    return CommandFailed(f'Command "{word}" is unknown, try "ip {obj} help".\n', 255, fatal=True)


def find_link(ctx: Context, name: str) -> Link:
    """Resolve a device name as ll_name_to_index() does, before anything goes to the kernel."""
    for link in ctx.backend.link_list(ctx.ns):
        if link.name == name:
            return link
    raise no_device(name)


def dump_json(ctx: Context, value: Any) -> None:
    """iproute2's json_writer without -p: compact, one line."""
    ctx.out(json.dumps(value, separators=(",", ":")) + "\n")


class ArgReader:
    """The argv cursor iproute2 walks with NEXT_ARG(): `next()` fails with "Command line is
    not complete" when a keyword lacks its value."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.pos = 0

    def __bool__(self) -> bool:
        return self.pos < len(self.argv)

    def peek(self) -> str:
        return self.argv[self.pos]

    def take(self) -> str:
        word = self.argv[self.pos]
        self.pos += 1
        return word

    def value(self) -> str:
        if self.pos >= len(self.argv):
            raise incomplete()
        return self.take()


def parse_prefix(text: str) -> str:
    """A destination as `ip route` takes it: "default", "A.B.C.D/N" or "A.B.C.D" (a /32),
    returned normalised the way the kernel keys it ("default" for 0/0)."""
    if text in ("default", "all", "any"):
        return "default"
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise CommandFailed(
            f'Error: any valid prefix is expected rather than "{text}".\n', 1
        ) from None
    if net.prefixlen == 0:
        return "default"
    address = text.split("/", 1)[0]
    return f"{address}/{net.prefixlen}"


def parse_address(text: str, what: str = "address") -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise CommandFailed(
            f'Error: inet {what} is expected rather than "{text}".\n', 1
        ) from None


def parse_uint(text: str, what: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise invarg(f'Invalid "{what}" value\n', text) from None
    if value < 0:
        raise invarg(f'Invalid "{what}" value\n', text)
    return value


#: strtol(3) with base 0: leading white space, a sign, then hex (0x), octal (0) or decimal.
_STRTOL0 = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")


def parse_int(text: str, what: str) -> int:
    """iproute2's get_integer(…, 0): a C int, as strtol reads it ("0x5dc" is 1500, "010" is
    8, "08" and "1500 " are not numbers); beyond INT_MIN..INT_MAX it is an invalid value."""
    found = _STRTOL0.fullmatch(text)
    if found is None:
        raise invarg(f'Invalid "{what}" value\n', text)
    sign, hexa, octal, decimal = found.groups()
    value = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal, 10)
    value = -value if sign == "-" else value
    if not -(2**31) <= value <= 2**31 - 1:
        raise invarg(f'Invalid "{what}" value\n', text)
    return value


Handler = Callable[[Context, IpOptions, list[str]], int]


def unsupported(what: str) -> Unsupported:
    return Unsupported("ip", what)
