"""Running `ctrnet grade` from its parsed arguments (`ctrnet.grade.command`) to one or more
reports (stdout, `--output FILE`, or one file per format under `--output-dir DIR`); `ctrnet
grade report RESULT.json` renders a saved JSON result again in any format, without grading
again. Progress goes to stderr while the grade runs. Exit status: 0 when all six items pass,
1 when one does not, 2 when grading could not run (also a usage error or an unreadable
result). What it says to people follows --lang (`ctrnet.i18n`); the reports' own language is
the same one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ctrnet import i18n
from ctrnet.errors import oserror_ja
from ctrnet.grade import classroom, jsonfmt
from ctrnet.grade.command import CANNOT_RUN
from ctrnet.grade.model import Grade
from ctrnet.grade.report import FILENAMES, Format, parse_formats, render
from ctrnet.grade.runner import Request, grade
from ctrnet.i18n import say


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
        return _fail(say("--class grades the submissions it finds: no --impl, --conf or "
                         "--output",
                         "--class は見つけた提出物を採点します: --impl・--conf・--output は"
                         "使えません"))
    if args.jobs is not None and args.jobs < 1:
        return _fail(say("--jobs: at least 1", "--jobs: 1 以上にしてください"))
    lang = getattr(args, "lang", None) or i18n.current()
    try:
        return classroom.run_class(Path(args.class_), Path(args.output_dir or "grades"),
                                   backend=args.backend, lang=lang, jobs=args.jobs,
                                   timeout=args.timeout, quiet=args.quiet)
    except classroom.ClassError as exc:
        return _fail(exc.said())


def _verdict(result: Grade) -> str:
    """The score, or that there is none: a grade that could not run is not a 0/6."""
    if result.error is not None:
        return say("could not run", "採点できませんでした")
    return f"{result.score}/{result.max_score}"


def _bad_format(text: str) -> str:
    """What is wrong with --format `text`, in Japanese (`parse_formats` says it in English)."""
    names = [part.strip() for part in text.split(",")]
    known = {f.value for f in Format}
    bad = next((name for name in names if name not in known), None)
    if bad is None:
        return "形式が指定されていません"
    return f"形式 {bad!r} はありません。形式は {', '.join(f.value for f in Format)} です"


def _colour(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def run(args: argparse.Namespace) -> int:
    try:
        formats = parse_formats(args.format)
    except ValueError as exc:
        return _fail(say(f"--format: {exc}", f"--format: {_bad_format(args.format)}"))
    if len(formats) > 1 and args.output_dir is None:
        return _fail(say("several formats need --output-dir DIR (one file per format)",
                         "複数の形式には --output-dir DIR が必要です（形式ごとに 1 ファイル）"))
    if args.output is not None and args.output_dir is not None:
        return _fail(say("--output and --output-dir exclude each other",
                         "--output と --output-dir は同時に使えません"))
    if args.class_ is not None:
        return _grade_class(args)
    action = list(args.action)
    if action:
        if action[0] != "report" or len(action) != 2:
            words = " ".join(action)
            return _fail(say(f"unknown arguments {words!r}; did you mean "
                             "`ctrnet grade report RESULT.json`?",
                             f"不明な引数です: {words!r}。"
                             "`ctrnet grade report RESULT.json` のことですか?"))
        try:
            result = jsonfmt.load(Path(action[1]).read_text(encoding="utf-8"))
        except OSError as exc:
            return _fail(say(f"{action[1]}: {exc.strerror or exc}",
                             f"{action[1]}: {oserror_ja(exc)}"))
        except jsonfmt.BadReport as exc:  # jsonfmt's words are English
            return _fail(say(f"{action[1]}: {exc}",
                             f"{action[1]}: ctrnet grade の JSON の結果として読めません（{exc}）"))
    else:
        progress = () if args.quiet else ("-p", "ctrnet.grade.progress")
        result = grade(Request(impl=args.impl, backend=args.backend, conf=args.conf,
                               timeout=args.timeout, pytest_args=progress))
    lang = getattr(args, "lang", None) or i18n.current()
    emit(result, formats, lang=lang, output=args.output, output_dir=args.output_dir)
    if result.error is not None:
        print(f"ctrnet grade: {result.error_in(lang)}", file=sys.stderr)
    return result.exit_status


__all__ = ["emit", "run"]
