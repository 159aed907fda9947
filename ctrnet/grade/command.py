"""`ctrnet grade`: its arguments, and running a grade from them to one or more reports (stdout,
`--output FILE`, or one file per format under `--output-dir DIR`); `ctrnet grade report
RESULT.json` renders a saved JSON result again in any format, without grading again.
Progress goes to stderr while the grade runs. Exit status: 0 when all six items pass, 1 when
one does not, 2 when grading could not run (also a usage error or an unreadable result).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ctrnet import i18n
from ctrnet.grade import classroom, jsonfmt
from ctrnet.grade.model import Grade
from ctrnet.grade.report import FILENAMES, LANGS, Format, parse_formats, render
from ctrnet.grade.runner import Request, grade
from ctrnet.registry import REGISTRY

#: Exit status when grading could not run (model.Grade.exit_status says the same).
CANNOT_RUN = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    say = i18n.say
    parser.add_argument("action", nargs="*", metavar="report RESULT.json",
                        help=say("render a saved JSON result (from --format json) again, in "
                                 "--format, without grading again",
                                 "保存した JSON の結果（--format json のもの）を採点し直さずに "
                                 "--format の形式で出力し直す"))
    parser.add_argument("--impl", default="ctrnet", metavar="ctrnet|cni:PATH",
                        help=say("what to grade: ctrnet's own model (default) or a CNI plugin",
                                 "採点する対象: ctrnet 自身のモデル（既定）か CNI プラグイン"))
    parser.add_argument("--conf", metavar="FILE",
                        help=say("JSON merged into the network config the plugin gets (keys "
                                 "the checks depend on, like name, bridge and ipam, stay the "
                                 "grader's)",
                                 "プラグインが受け取るネットワーク設定に混ぜる JSON（name・"
                                 "bridge・ipam などチェックが頼るキーは採点側の値のまま）"))
    parser.add_argument("--backend", choices=sorted(REGISTRY), default="sim",
                        help=say("the world to grade on (default: sim)",
                                 "採点に使う世界（既定: sim）"))
    formats = ", ".join(f.value for f in Format)
    parser.add_argument("--format", default="table", metavar="FORMAT[,FORMAT…]",
                        help=say(f"one or more of {formats}, comma-separated (default table)",
                                 f"{formats} から 1 つ以上、カンマ区切り（既定: table）"))
    # One language switch for every command (ctrnet.i18n): --lang here or before the
    # command, else LC_ALL / LC_MESSAGES / LANG.
    parser.add_argument("--lang", choices=LANGS, default=argparse.SUPPRESS)
    parser.add_argument("--output", metavar="FILE",
                        help=say("write the report here, not stdout (one format only)",
                                 "報告を標準出力ではなくここに書く（形式は 1 つだけ）"))
    files = ", ".join(f"{name} ({fmt.value})" for fmt, name in FILENAMES.items())
    parser.add_argument("--output-dir", metavar="DIR",
                        help=say(f"write each format to its file in DIR: {files}",
                                 f"各形式を DIR の中のそれぞれのファイルに書く: {files}"))
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help=say("kill a plugin call after this long (default 10)",
                                 "プラグインの呼び出しをこの秒数で打ち切る（既定: 10）"))
    parser.add_argument("--class", dest="class_", metavar="DIR|ROSTER",
                        help=say("grade a whole class: every submission in DIR (or listed in a "
                                 "ROSTER csv of student,path), every format per student and a "
                                 "summary, under --output-dir (default grades/); see "
                                 "ctrnet.grade.classroom",
                                 "クラス全体を採点する: DIR の（または student,path の ROSTER "
                                 "csv に並ぶ）すべての提出物を、学生ごとの全形式と集計として "
                                 "--output-dir（既定: grades/）の下に書く。"
                                 "ctrnet.grade.classroom を参照"))
    parser.add_argument("--jobs", type=int, metavar="N",
                        help=say("with --class: submissions graded at once (default: the cores)",
                                 "--class と共に: 同時に採点する提出物の数（既定: コア数）"))
    parser.add_argument("--quiet", action="store_true",
                        help=say("no progress on stderr while grading",
                                 "採点中に標準エラーへ進捗を出さない"))


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


__all__ = ["add_arguments", "emit", "run"]
