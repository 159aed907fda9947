"""`ctrnet grade`: its arguments. Running a grade from them is `ctrnet.grade.main`, which the
command line imports only when `ctrnet grade` runs (through `ctrnet.cli_lazy`): it imports
pytest, and `ctrnet --help` or `ctrnet network ls` have no use for it.
"""

from __future__ import annotations

import argparse

from ctrnet import i18n
from ctrnet.grade.report import FILENAMES, LANGS, Format
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
    parser.add_argument("--lang", choices=LANGS, default=argparse.SUPPRESS,
                        help=say("language of the report and the messages (default: from "
                                 "LC_ALL, LC_MESSAGES or LANG)",
                                 "報告とメッセージの言語（既定: LC_ALL・LC_MESSAGES・LANG から）"))
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


__all__ = ["CANNOT_RUN", "add_arguments"]
