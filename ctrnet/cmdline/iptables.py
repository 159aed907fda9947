"""`iptables`, `iptables-save` and `iptables-restore` (1.8.9, nf_tables flavour) on a
namespace's rule model (ctrnet.netfilter.Ruleset, reached through the context's hook).

The verbs, listings and refusals are the model's; this module adds what the programs add
around them: global options (-w, -V), the program banner, the "Try `iptables -h'…" hint
and the exit status iptables gives for each kind of failure (2 for a parameter problem
found before anything reaches the kernel, 1 for what the kernel refuses, 3 for an unknown
table, 4 for a batch the kernel rejected).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported
from ctrnet.cmdline.xtables_getopt import canonical_argv
from ctrnet.errors import CtrnetError, InvalidConfig
from ctrnet.netfilter.listing import save_table
from ctrnet.netfilter.model import TABLE_ORDER, Jump, Standard, Verdict
from ctrnet.netfilter.parse import Verb, parse_command

VERSION = "v1.8.9 (nf_tables)"


def _hint(prog: str) -> str:
    return f"Try `{prog} -h' or '{prog} --help' for more information.\n"


def _failure(err: CtrnetError) -> CommandFailed:
    """The words and exit status `iptables` ends with for a refusal of the model."""
    message = str(err.args[0]) if err.args else str(err)
    banner = f"iptables {VERSION}: "
    if isinstance(err, InvalidConfig):
        if message.startswith("Bad argument `"):
            # iptables 1.8.9 reports a stray word without its program banner.
            return CommandFailed(f"{message}\n{_hint('iptables')}", 2)
        return CommandFailed(f"{banner}{message}\n{_hint('iptables')}", 2)
    if message.startswith(" "):
        # An nf_tables batch the kernel refused ("RULE_APPEND failed (Invalid argument)").
        return CommandFailed(f"{banner}{message}\n", 4)
    if message.startswith("table '") and message.endswith("does not exist"):
        return CommandFailed(
            f"{banner}{message}\nPerhaps iptables or your kernel needs to be upgraded.\n", 3)
    if message == "Bad policy name.":
        message += " Run `dmesg' for more information."
    return CommandFailed(f"iptables: {message}\n", 1)


def _strip_wait(args: list[str]) -> list[str]:
    """Drop -w [SECONDS] / --wait / -W USEC: one lock holder at a time is how the simulator
    runs anyway."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-w", "--wait"):
            if i + 1 < len(args) and args[i + 1].isdigit():
                i += 1
        elif arg.startswith("--wait=") or (arg.startswith("-w") and arg[2:].isdigit()):
            pass
        elif arg in ("-W", "--wait-interval"):
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


def iptables(argv: list[str], ctx: Context) -> int:
    args = _strip_wait(canonical_argv(argv))
    if args in (["-V"], ["--version"]):
        ctx.out(f"iptables {VERSION}\n")
        return 0
    if any(a in ("-h", "--help") for a in args):
        raise Unsupported("iptables", "-h")
    ruleset = ctx.ruleset("iptables")
    try:
        command = parse_command(args)
        target = command.rule.target if command.rule is not None else None
        if command.table == "nat" and isinstance(target, Standard) \
                and target.verdict is Verdict.DROP:
            # xshared.c refuses DROP in the nat table before anything reaches the kernel.
            raise CommandFailed(
                f"iptables {VERSION}: \nThe \"nat\" table is not intended for filtering, the "
                f"use of DROP is therefore inhibited.\n\n\n{_hint('iptables')}", 2)
        if isinstance(target, Jump) and target.chain not in ruleset.table(command.table).chains:
            # A jump to a chain that does not exist is refused while parsing (command_jump),
            # before the rule's own chain is looked at.
            raise CommandFailed(f"iptables {VERSION}: Chain '{target.chain}' does not exist\n"
                                f"{_hint('iptables')}", 2)
        if command.verb is Verb.LIST and command.rulenum is not None:
            raise Unsupported("iptables", "-L CHAIN RULENUM (one rule's line)")
        ctx.out(ruleset.execute(command))
    except CtrnetError as err:
        raise _failure(err) from err
    return 0


def _banner() -> tuple[str, str]:
    return f"iptables-save {VERSION}", time.ctime()


def iptables_save(argv: list[str], ctx: Context) -> int:
    args = list(argv)
    table: str | None = None
    counters = False
    while args:
        arg = args.pop(0)
        if arg in ("-c", "--counters"):
            counters = True
        elif arg in ("-t", "--table") and args:
            table = args.pop(0)
        elif arg.startswith("--table="):
            table = arg.split("=", 1)[1]
        else:
            raise Unsupported("iptables-save", f"option {arg}")
    ruleset = ctx.ruleset("iptables-save")
    if table is not None:
        if table not in TABLE_ORDER:
            raise CommandFailed(f"Table `{table}' does not exist\n", 1)
        # Naming a table shows it even before its first write, as iptables-nft does.
        ctx.out(save_table(ruleset.table(table), counters=counters, banner=_banner()))
        return 0
    ctx.out(ruleset.save(counters=counters, banner=_banner()))
    return 0


def _commit_line(text: str, line: int) -> int:
    """The number of the COMMIT line that ends the block holding `line`."""
    for number, raw in enumerate(text.splitlines()[line - 1:], start=line):
        if raw.strip() == "COMMIT":
            return number
    return line


def _restore_failure(err: CtrnetError, text: str) -> CommandFailed:
    """iptables-restore's words: the model says "line N failed: WHY" or a whole message."""
    message = str(err.args[0]) if err.args else str(err)
    if re.fullmatch(r"line \d+ failed: Chain '.*' does not exist", message):
        # A jump to a missing chain is found when nf_tables checks the batch, i.e. at the
        # block's COMMIT, which is the line iptables-restore names.
        failed = int(message.split()[1])
        message = message.replace(f"line {failed} ", f"line {_commit_line(text, failed)} ", 1)
    hint = _hint("iptables-restore")
    banner = f"iptables-restore {VERSION}: "
    if message.startswith("iptables-restore: "):
        if " table name " in message:
            line = message.split("line ", 1)[1].split(" ", 1)[0]
            return CommandFailed(f"{banner}{message}\nError occurred at line: {line}\n{hint}", 2)
        return CommandFailed(f"{message}\n", 1)
    if message.startswith("line ") and " failed: " in message:
        where, why = message.split(" failed: ", 1)
        line = where.split(" ", 1)[1]
        if why.startswith(" "):
            return CommandFailed(f"{banner}line {line}:{why}\n", 4)
        if isinstance(err, InvalidConfig):
            if why.startswith("Bad argument"):
                return CommandFailed(f"{why}\nError occurred at line: {line}\n{hint}", 2)
            return CommandFailed(f"{banner}{why.rstrip(chr(10))}\n"
                                 f"Error occurred at line: {line}\n{hint}", 2)
        return CommandFailed(f"iptables-restore: {message}\n", 1)
    return CommandFailed(f"iptables-restore: {message}\n", 1)


def restore_options(argv: list[str]) -> tuple[dict[str, bool], str | None]:
    """(flags, file) of `iptables-restore ARGV`; also tells the server whether it reads stdin."""
    flags = {"noflush": False, "test": False, "counters": False}
    source: str | None = None
    for arg in _strip_wait(argv):
        if arg in ("-n", "--noflush"):
            flags["noflush"] = True
        elif arg in ("-t", "--test"):
            flags["test"] = True
        elif arg in ("-c", "--counters"):
            flags["counters"] = True
        elif arg.startswith("-") and arg != "-":
            raise Unsupported("iptables-restore", f"option {arg}")
        elif source is None:
            source = arg
        else:
            raise Unsupported("iptables-restore", "several files")
    return flags, source


def iptables_restore(argv: list[str], ctx: Context) -> int:
    flags, source = restore_options(argv)
    if source is None or source == "-":
        text = ctx.stdin.read()
    else:
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise CommandFailed(f"Can't open {source}: {err.strerror}\n", 1) from err
    ruleset = ctx.ruleset("iptables-restore")
    target = ruleset.copy() if flags["test"] else ruleset
    try:
        target.restore(text, noflush=flags["noflush"], counters=flags["counters"],
                       options=canonical_argv)
    except CtrnetError as err:
        raise _restore_failure(err, text) from err
    return 0


def run(argv: list[str], ctx: Context) -> int:
    """`iptables ARGS…`; returns the exit status."""
    return _guarded(iptables, argv, ctx)


def run_save(argv: list[str], ctx: Context) -> int:
    """`iptables-save ARGS…`."""
    return _guarded(iptables_save, argv, ctx)


def run_restore(argv: list[str], ctx: Context) -> int:
    """`iptables-restore ARGS… [< FILE]`."""
    return _guarded(iptables_restore, argv, ctx)


def _guarded(main: Callable[[list[str], Context], int], argv: list[str], ctx: Context) -> int:
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
