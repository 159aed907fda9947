"""The `ctrnet` command line: the entry point people use. It parses arguments, calls the core
and prints; a mistake the user made comes out as one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ctrnet import __version__
from ctrnet.backend import REGISTRY, open_backend
from ctrnet.errors import CtrnetError


def _cmd_backends(args: argparse.Namespace) -> int:
    """List the backends and what each can do here."""
    for name in REGISTRY:
        if name == "kernel" and os.geteuid() != 0:
            print(f"{name:8} needs root")
            continue
        with open_backend(name) as world:
            print(f"{name:8} {' '.join(sorted(world.capabilities))}")
    return 0


def _cmd_conformance(args: argparse.Namespace) -> int:
    """Run the conformance suite shipped in the package against one backend."""
    import pytest

    argv = ["--pyargs", "ctrnet.conformance", "--backend", args.backend, *args.pytest_args]
    return int(pytest.main(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctrnet",
        description="A testbed and conformance suite for Linux container networking.",
    )
    parser.add_argument("--version", action="version", version=f"ctrnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("backends", help="list the backends and their capabilities")
    p.set_defaults(func=_cmd_backends)

    p = sub.add_parser("conformance", help="run the conformance suite against a backend")
    p.add_argument("--backend", choices=sorted(REGISTRY), default="sim")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    p.set_defaults(func=_cmd_conformance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
