"""Running `ctrnet grade` from its parsed arguments (`ctrnet.grade.command`) to one or more
reports (stdout, `--output FILE`, or one file per format under `--output-dir DIR`); `ctrnet
grade report RESULT.json` renders a saved JSON result again in any format, without grading
again. Progress goes to stderr while the grade runs. Exit status: 0 when all six items pass,
1 when one does not, 2 when grading could not run (also a usage error or an unreadable
result).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ctrnet import i18n
from ctrnet.grade import classroom, jsonfmt
from ctrnet.grade.command import CANNOT_RUN
from ctrnet.grade.model import Grade
from ctrnet.grade.report import FILENAMES, Format, parse_formats, render
from ctrnet.grade.runner import Request, grade


def _fail(message: str) -> int:
    print(f"ctrnet grade: {message}", file=sys.stderr)
    return CANNOT_RUN


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def emit(result: Grade, formats: list[Format], *, lang: str, output: str | None,
         output_dir: str | None) -> None:
    """The reports of `result` in `formats`: to stdout, `output` or files in `output_dir`."""
    if output_dir is not None:
        for fmt in formats:
            _write(Path(output_dir) / FILENAMES[fmt], render(result, fmt, lang=lang))
        if Format.TABLE not in formats:  # a person still wants the verdict on the terminal
            print(f"ctrnet grade: {_verdict(result)} -> {output_dir}")
        else:
            sys.stdout.write(render(result, Format.TABLE, lang=lang,
                                    color=_colour(sys.stdout)))
        return
    [fmt] = formats
    if output is not None:
        _write(Path(output), render(result, fmt, lang=lang))
        if fmt is not Format.TABLE:
            print(f"ctrnet grade: {_verdict(result)} -> {output}")
        return
    sys.stdout.write(render(result, fmt, lang=lang, color=_colour(sys.stdout)))


def _grade_class(args: argparse.Namespace) -> int:
    if args.impl != "ctrnet" or args.output is not None or args.conf is not None:
        return _fail("--class grades the submissions it finds: no --impl, --conf or --output")
    if args.jobs is not None and args.jobs < 1:
        return _fail("--jobs: at least 1")
    lang = getattr(args, "lang", None) or i18n.current()
    try:
        return classroom.run_class(Path(args.class_), Path(args.output_dir or "grades"),
                                   backend=args.backend, lang=lang, jobs=args.jobs,
                                   timeout=args.timeout, quiet=args.quiet)
    except classroom.ClassError as exc:
        return _fail(str(exc))


def _verdict(result: Grade) -> str:
    """The score, or that there is none: a grade that could not run is not a 0/6."""
    return "could not run" if result.error is not None else f"{result.score}/{result.max_score}"


def _colour(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def run(args: argparse.Namespace) -> int:
    try:
        formats = parse_formats(args.format)
    except ValueError as exc:
        return _fail(f"--format: {exc}")
    if len(formats) > 1 and args.output_dir is None:
        return _fail("several formats need --output-dir DIR (one file per format)")
    if args.output is not None and args.output_dir is not None:
        return _fail("--output and --output-dir exclude each other")
    if args.class_ is not None:
        return _grade_class(args)
    action = list(args.action)
    if action:
        if action[0] != "report" or len(action) != 2:
            return _fail(f"unknown arguments {' '.join(action)!r}; did you mean "
                         "`ctrnet grade report RESULT.json`?")
        try:
            result = jsonfmt.load(Path(action[1]).read_text(encoding="utf-8"))
        except OSError as exc:
            return _fail(f"{action[1]}: {exc.strerror or exc}")
        except jsonfmt.BadReport as exc:
            return _fail(f"{action[1]}: {exc}")
    else:
        progress = () if args.quiet else ("-p", "ctrnet.grade.progress")
        result = grade(Request(impl=args.impl, backend=args.backend, conf=args.conf,
                               timeout=args.timeout, pytest_args=progress))
    lang = getattr(args, "lang", None) or i18n.current()
    emit(result, formats, lang=lang, output=args.output, output_dir=args.output_dir)
    if result.error is not None:
        print(f"ctrnet grade: {result.error}", file=sys.stderr)
    return result.exit_status


__all__ = ["emit", "run"]
