"""The `ctrnet` command line: the entry point people use. It parses arguments, calls the core
and prints; a mistake the user made comes out as one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, cast

import pytest

from ctrnet import __version__, cli_network, cli_troubleshoot
from ctrnet.errors import CtrnetError
from ctrnet.grade import command as grade_command
from ctrnet.registry import REGISTRY, open_backend, run_sim_command, run_sim_shell


def _cmd_backends(args: argparse.Namespace) -> int:
    """List the backends and what each can do here."""
    for name, entry in REGISTRY.items():
        if entry.needs_root and os.geteuid() != 0:
            print(f"{name:8} needs root")
            continue
        with open_backend(name) as world:
            print(f"{name:8} {' '.join(sorted(world.capabilities))}")
    return 0


def _cmd_conformance(args: argparse.Namespace) -> int:
    """Run the conformance suite shipped in the package against one backend."""
    argv = ["--pyargs", "ctrnet.conformance", "--backend", args.backend, *args.pytest_args]
    return int(pytest.main(argv))


def _cmd_sim_exec(args: argparse.Namespace) -> int:
    """Run a command with the simulator's shims (ip, iptables, ping…) first on its PATH."""
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("ctrnet sim exec: no command given (ctrnet sim exec -- CMD [ARGS...])",
              file=sys.stderr)
        return 2
    return run_sim_command(argv, args.state)


def _cmd_sim_shell(args: argparse.Namespace) -> int:
    """An interactive shell in the simulator."""
    return run_sim_shell(args.state)


def _add_sim_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ctrnet sim exec|shell`: the guide's commands, and any script, on the simulator."""
    sim = sub.add_parser("sim", help="run commands or a shell against a simulated world")
    verbs = sim.add_subparsers(dest="sim_command", required=True, metavar="VERB")
    state_help = ("keep the world in DIR: it is loaded before and saved after the run "
                  "(default: a fresh world, discarded)")
    p = verbs.add_parser("exec", help="run CMD with ip, iptables, ping… acting on the world")
    p.add_argument("--state", metavar="DIR", help=state_help)
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    p.set_defaults(func=_cmd_sim_exec)
    p = verbs.add_parser("shell", help="an interactive shell in the simulated world")
    p.add_argument("--state", metavar="DIR", help=state_help)
    p.set_defaults(func=_cmd_sim_shell)


def _add_grade_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ctrnet grade`: an implementation against the guide's six-item checklist."""
    p = sub.add_parser("grade", help="grade ctrnet or a CNI plugin against the checklist")
    grade_command.add_arguments(p)
    p.set_defaults(func=grade_command.run)


def _add_troubleshoot_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ctrnet capture|trace|doctor|topology`: see `ctrnet.cli_troubleshoot`."""
    cli_troubleshoot.add_commands(sub)


class _Parser(argparse.ArgumentParser):
    """A usage mistake is one line too (argparse would print the whole usage first); the
    subcommands' parsers inherit this class, so every command says it the same way."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0] if message else ''}"
                     f" (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ctrnet",
        description="A testbed and conformance suite for Linux container networking.",
    )
    parser.add_argument("--version", action="version", version=f"ctrnet {__version__}")
    # Every subcommand's parser is a _Parser (argparse makes them of the parent's class).
    sub = cast("argparse._SubParsersAction[argparse.ArgumentParser]",
               parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))

    p = sub.add_parser("backends", help="list the backends and their capabilities")
    p.set_defaults(func=_cmd_backends)

    p = sub.add_parser("conformance", help="run the conformance suite against a backend")
    p.add_argument("--backend", choices=sorted(REGISTRY), default="sim")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    p.set_defaults(func=_cmd_conformance)
    _add_sim_commands(sub)
    _add_grade_command(sub)
    cli_network.add_commands(sub)
    _add_troubleshoot_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error, printed already
        return exc.code if isinstance(exc.code, int) else 2
    try:
        code: int = args.func(args)
    except CtrnetError as exc:
        print(f"ctrnet: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ctrnet: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
