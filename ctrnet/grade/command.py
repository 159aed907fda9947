"""`ctrnet grade`: its arguments, and running a grade from them to a report on stdout or in
a file. Exit status: 0 when all six items pass, 1 when one fails, 2 when grading could not run.
"""

from __future__ import annotations

import argparse
import os
import sys

from ctrnet.grade.report import LANGS, Format, render
from ctrnet.grade.runner import Request, grade
from ctrnet.registry import REGISTRY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", default="ctrnet", metavar="ctrnet|cni:PATH",
                        help="what to grade: ctrnet's own model (default) or a CNI plugin")
    parser.add_argument("--conf", metavar="FILE",
                        help="JSON merged into the network config the plugin gets (keys the "
                        "checks depend on, like name, bridge and ipam, stay the grader's)")
    parser.add_argument("--backend", choices=sorted(REGISTRY), default="sim")
    parser.add_argument("--format", choices=[f.value for f in Format], default="table")
    parser.add_argument("--lang", choices=LANGS,
                        default="ja" if os.environ.get("LANG", "").startswith("ja") else "en")
    parser.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="kill a plugin call after this long (default 10)")


def run(args: argparse.Namespace) -> int:
    result = grade(Request(impl=args.impl, backend=args.backend, conf=args.conf,
                           timeout=args.timeout))
    to_file = args.output is not None
    color = not to_file and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render(result, args.format, lang=args.lang, color=color)
    if to_file:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        if args.format != "table":  # a person still wants the verdict on the terminal
            print(f"ctrnet grade: {result.score}/{result.max_score} -> {args.output}")
    else:
        sys.stdout.write(text)
    if result.error is not None:
        print(f"ctrnet grade: {result.error}", file=sys.stderr)
    return result.exit_status
