"""The commands whose implementation the command line imports only when one of them runs:
grading and the conformance suite. Both run pytest, whose import alone costs about as much
as the rest of the command line's start-up (docs/benchmarks.md, "Command-line start-up"),
and `ctrnet --help` or `ctrnet network ls` have no use for it.

This is the command line's one lazy point, as `ctrnet.registry` is for the backends: its
function-level imports are the only others the core has (tests/test_structure.py allows
them here, for the modules named below, and tests/test_cli_startup.py checks that importing
the command line loads no pytest).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def run_grade(args: argparse.Namespace) -> int:
    """`ctrnet grade`, its arguments parsed as `ctrnet.grade.command` declares them."""
    from ctrnet.grade.main import run

    return run(args)


def run_conformance(argv: Sequence[str]) -> int:
    """pytest with `argv`, in this process: the conformance suite shipped in the package."""
    import pytest

    return int(pytest.main(list(argv)))
