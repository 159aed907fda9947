"""`sleep` (coreutils) on a Backend: the operands (NUMBER[smhd], summed) become one
`backend.sleep()`, so on the simulator time passes on the virtual clock."""

from __future__ import annotations

import math

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _quote(ctx: Context, text: str) -> str:
    # coreutils quotes with ‘…’ in a UTF-8 locale and '…' in the C/POSIX locale.
    locale = ctx.env.get("LC_ALL") or ctx.env.get("LC_MESSAGES") or ctx.env.get("LANG") or ""
    return f"'{text}'" if locale in ("C", "POSIX") else f"\u2018{text}\u2019"


def _seconds(ctx: Context, operand: str) -> float:
    number, unit = operand, "s"
    if operand and operand[-1] in _UNITS:
        number, unit = operand[:-1], operand[-1]
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if math.isinf(value) and value > 0:
        raise Unsupported("sleep", "sleeping forever")
    if not math.isfinite(value) or value < 0 or number.strip() != number or not number:
        raise CommandFailed(
            f"sleep: invalid time interval {_quote(ctx, operand)}\n"
            "Try 'sleep --help' for more information.\n", 1)
    return value * _UNITS[unit]


def duration(argv: list[str], ctx: Context) -> float:
    """The seconds `sleep ARGV` waits (its operands summed); raises as sleep fails."""
    operands = [a for a in argv if a != "--"]
    if any(a.startswith("-") and len(a) > 1 and not a[1].isdigit() for a in operands):
        raise Unsupported("sleep", "options")
    if not operands:
        raise CommandFailed(
            "sleep: missing operand\nTry 'sleep --help' for more information.\n", 1)
    return sum(_seconds(ctx, operand) for operand in operands)


def main(argv: list[str], ctx: Context) -> int:
    ctx.backend.sleep(duration(argv, ctx))
    return 0


def run(argv: list[str], ctx: Context) -> int:
    """`sleep ARGS…` (argv without the program name); returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
