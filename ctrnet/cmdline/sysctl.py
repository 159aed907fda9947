"""`sysctl` (procps-ng 4.0) on a Backend: read `KEY`, write `KEY=VALUE` (with or without -w),
several keys per command, -n / -N / -q / -e / -b, with procps's messages and exit status 1
when any key failed. Keys are the namespace's own (`net.*`), dotted or slashed. A value the
backend does not model (NotModelled) is refused loudly: `ctrnet sim: sysctl: KEY=VALUE (…) is
not supported`, exit 2.
"""

from __future__ import annotations

import errno
import os

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported
from ctrnet.errors import CtrnetError, NotModelled

USAGE = """
Usage:
 sysctl [options] [variable[=value] ...]

Options:
  -a, --all            display all variables
  -A                   alias of -a
  -X                   alias of -a
      --deprecated     include deprecated parameters to listing
      --dry-run        Print the key and values but do not write
  -b, --binary         print value without new line
  -e, --ignore         ignore unknown variables errors
  -N, --names          print variable names without values
  -n, --values         print only values of the given variable(s)
  -p, --load[=<file>]  read values from file
  -f                   alias of -p
      --system         read values from all system directories
  -r, --pattern <expression>
                       select setting that match expression
  -q, --quiet          do not echo variable set
  -w, --write          enable writing a value to variable
  -o                   does nothing
  -x                   does nothing
  -d                   alias of -h

 -h, --help     display this help and exit
 -V, --version  output version information and exit

For more details see sysctl(8).
"""

_LONG = {"--write": "w", "--values": "n", "--names": "N", "--quiet": "q", "--ignore": "e",
         "--binary": "b"}
_UNSUPPORTED = set("aAXpfrhdV")


def _normalise(key: str) -> str:
    # procps accepts net/ipv4/ip_forward and prints it dotted.
    return key.strip().replace("/", ".")


def _path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def main(argv: list[str], ctx: Context) -> int:
    flags: set[str] = set()
    operands: list[str] = []
    for arg in argv:
        if arg in _LONG:
            flags.add(_LONG[arg])
        elif arg.startswith("--"):
            raise Unsupported("sysctl", f"option {arg}")
        elif arg.startswith("-") and len(arg) > 1 and not operands:
            for letter in arg[1:]:
                if letter in _UNSUPPORTED:
                    raise Unsupported("sysctl", f"option -{letter}")
                if letter not in "wnNqeboxs":
                    raise CommandFailed(
                        f"sysctl: invalid option -- '{letter}'\n{USAGE}", 1)
                flags.add(letter)
        else:
            operands.append(arg)
    if not operands:
        raise CommandFailed(USAGE, 1)
    status = 0
    end = "" if "b" in flags else "\n"
    for operand in operands:
        key, eq, value = operand.partition("=")
        key = _normalise(key)
        if not eq and "w" in flags:
            ctx.err("sysctl: command line(0): invalid syntax, continuing...\n")
            status = 1
            continue
        try:
            if eq:
                value = value.strip()
                ctx.backend.sysctl_set(ctx.ns, key, value)
            else:
                value = ctx.backend.sysctl_get(ctx.ns, key)
        except NotModelled as err:
            # A value whose effect the backend would not model: refused loudly, never stored.
            setting, _, why = err.message.partition(": ")
            raise Unsupported("sysctl", f"{setting} ({why})") from None
        except CtrnetError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR):
                if "e" not in flags:
                    ctx.err(f"sysctl: cannot stat {_path(key)}: No such file or directory\n")
                    status = 1
            elif err.errno in (errno.EPERM, errno.EACCES):
                ctx.err(f'sysctl: permission denied on key "{key}"\n')
                status = 1
            else:
                verb = "setting" if eq else "reading"
                ctx.err(f'sysctl: {verb} key "{key}": {os.strerror(err.errno or errno.EIO)}\n')
                status = 1
            continue
        if eq and "q" in flags:
            continue
        if "b" in flags or "n" in flags:
            ctx.out(value + end)
        elif "N" in flags:
            # procps 4 prints the value, not the name, when -N meets a write.
            ctx.out((value if eq else key) + end)
        else:
            ctx.out(f"{key} = {value}{end}")
    return status


def run(argv: list[str], ctx: Context) -> int:
    """`sysctl ARGS…` (argv without the program name); returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
