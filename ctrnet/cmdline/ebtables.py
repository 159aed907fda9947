"""`ebtables` (1.8.9, nf_tables flavour) on a namespace's bridge filter table
(ctrnet.netfilter.ebtables.EbtablesFilter, reached through the context's hook): the model's
verbs and listing, with the program's banner, hint and exit statuses around its refusals.
"""

from __future__ import annotations

from ctrnet.cmdline.context import CommandFailed, Context, Unsupported
from ctrnet.errors import CtrnetError, InvalidConfig
from ctrnet.netfilter.ebtables import NotModelled

VERSION = "1.8.9 (nf_tables)"
_HINT = "Try `ebtables -h' or 'ebtables --help' for more information.\n"


def main(argv: list[str], ctx: Context) -> int:
    args = [a for a in argv if a != "--concurrent"]
    if args in (["-V"], ["--version"]):
        ctx.out(f"ebtables {VERSION}\n")
        return 0
    if len(args) >= 2 and args[0] in ("-t", "--table") and args[1] != "filter":
        if args[1] in ("nat", "broute"):
            raise Unsupported("ebtables", f"-t {args[1]}")
        raise CommandFailed(f"ebtables v{VERSION}: table '{args[1]}' does not exist\n"
                            "Perhaps ebtables or your kernel needs to be upgraded.\n", 3)
    if not args or any(a in ("-h", "--help", "-N", "-X", "-E", "-Z", "-C", "--init-table",
                             "--atomic-file", "--atomic-commit") for a in args):
        raise Unsupported("ebtables", "this command (only -A, -I, -D, -L, -F, -P on filter)")
    table = ctx.bridge_filter()
    try:
        ctx.out(table.run(args))
    except NotModelled as err:
        raise Unsupported("ebtables", str(err.args[0])) from err
    except CtrnetError as err:
        message = str(err.args[0]) if err.args else str(err)
        if message.startswith(" RULE_APPEND failed"):
            raise CommandFailed(f"ebtables v{VERSION}: {message}\n", 4) from err
        if isinstance(err, InvalidConfig):
            raise CommandFailed(f"ebtables v{VERSION}: {message}\n{_HINT}", 2) from err
        raise CommandFailed(f"ebtables: {message}\n", 1) from err
    return 0


def run(argv: list[str], ctx: Context) -> int:
    """`ebtables ARGS…`; returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
