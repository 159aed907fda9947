"""The grader speaks the chosen language: why a plugin failed (in ctrnet's words around the
plugin's own output, quoted verbatim), the grade's error and notes, its one-line refusals,
the class summary and the progress lines, in Japanese under --lang ja, while str(exc), the
JSON result and --lang en stay as they were.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrnet import i18n
from ctrnet.grade import checklist, jsonfmt
from ctrnet.grade.classroom import Outcome as ClassOutcome
from ctrnet.grade.classroom import Progress, summary_html, summary_markdown
from ctrnet.grade.cni import Call, PluginFailed, ResultInvalid, parse_result
from ctrnet.grade.model import Grade, Outcome, TestResult, build, classify
from ctrnet.grade.report import Format, render
from ctrnet.grade.runner import Collector

#: A sentence of English: three words of two or more lowercase letters in a row.
ENGLISH = re.compile(r"\b[a-z]{2,}(?: [a-z]{2,}){2,}\b")
KANA = re.compile(r"[\u3040-\u30ff]")


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    i18n.set_lang("en")


def _call(returncode: int = 1, stdout: str = "", stderr: str = "", *,
          timed_out: bool = False) -> Call:
    return Call("ADD", "c1", returncode, stdout, stderr, 0.1, timed_out)


# -- a plugin's failures -----------------------------------------------------------------------
FAILURES = [
    (_call(1, '{"cniVersion":"1.0.0","code":11,"msg":"no addresses left","details":"pool /29"}'),
     "ADD for c1 failed with error 11: no addresses left (pool /29)",
     "c1 の ADD が失敗しました: エラー 11: no addresses left（pool /29）"),
    (_call(2, stderr="RTNETLINK answers: File exists\n"),
     "ADD for c1 exited 2 without a CNI error result: 'RTNETLINK answers: File exists'",
     "c1 の ADD が CNI のエラー結果を出さずに終了コード 2 で終了しました: "
     "'RTNETLINK answers: File exists'"),
    (_call(1), "ADD for c1 exited 1 without a CNI error result: 'no output'",
     "c1 の ADD が CNI のエラー結果を出さずに終了コード 1 で終了しました: '出力なし'"),
    (_call(-11), "ADD for c1 crashed: killed by SIGSEGV",
     "c1 の ADD がクラッシュしました: SIGSEGV で強制終了"),
    (_call(-9, timed_out=True), "ADD for c1 hung: killed after 10 s",
     "c1 の ADD が応答しません: 10 秒で強制終了しました"),
    (_call(1, stderr="Traceback (most recent call last):\n  File \"p\"\n"
                     "ModuleNotFoundError: No module named 'pyroute2.iproute'\n"),
     "ADD for c1 cannot start: its Python has no module 'pyroute2' (install it for the "
     "interpreter of the plugin's #! line: python3 -m pip install pyroute2)",
     "c1 の ADD を起動できません: その Python にモジュール 'pyroute2' がありません（プラグインの "
     "#! 行のインタプリタに入れる: python3 -m pip install pyroute2）"),
    (_call(127, stderr="/p/plugin: 3: jq: not found\n"),
     "ADD for c1 cannot start: it runs 'jq', which is not installed here",
     "c1 の ADD を起動できません: 'jq' を実行しますが、ここにはインストールされていません"),
]


@pytest.mark.parametrize(("call", "english", "japanese"), FAILURES,
                         ids=["error-result", "stderr", "silent", "signal", "hang",
                              "no-module", "no-program"])
def test_a_plugin_failure_is_worded_in_both_languages(
        call: Call, english: str, japanese: str) -> None:
    failed = call.failure(10.0)
    assert isinstance(failed, PluginFailed)
    assert str(failed) == english == call.reason(10.0)
    assert failed.in_lang("ja") == japanese == call.reason(10.0, "ja")
    i18n.set_lang("ja")
    assert failed.said() == japanese and str(failed) == english


def test_what_the_sandbox_caught_is_said_in_japanese_too() -> None:
    call = Call("DEL", "c2", 0, "", "", 0.1, False,
                ("left 1 process running (a plugin must finish its work before it exits; "
                 "killed)", "wrote /tmp/x outside its data dir (removed)"),
                ("プロセスを 1 個動かしたまま終了しました（プラグインは終了する前に仕事を"
                 "終えること。強制終了）",
                 "データディレクトリの外に /tmp/x を書きました（削除済み）"))
    assert not call.ok
    assert call.reason(10) == ("DEL for c2 left 1 process running (a plugin must finish its "
                               "work before it exits; killed); wrote /tmp/x outside its data "
                               "dir (removed)")
    assert call.reason(10, "ja") == (
        "c2 の DEL: プロセスを 1 個動かしたまま終了しました（プラグインは終了する前に仕事を"
        "終えること。強制終了）; データディレクトリの外に /tmp/x を書きました（削除済み）")


def test_every_problem_of_an_invalid_result_has_its_japanese_wording() -> None:
    broken = {"cniVersion": "0.4.0", "interfaces": [{"mac": "x"}],
              "ips": [{"address": "10.0.0.300/24"}, {"address": "10.0.0.2",
                                                     "gateway": "g", "interface": 7}, 5],
              "routes": [{"gw": "10.0.0.1"}], "dns": []}
    result = parse_result(json.dumps(broken), strict=False)
    assert len(result.problems) == len(result.problems_ja) == 9
    assert result.problems_in("en") == result.problems
    for en, ja in zip(result.problems, result.problems_ja, strict=True):
        assert KANA.search(ja) and not KANA.search(en), (en, ja)
        assert not ENGLISH.search(re.sub(r"'[^']*'|\{[^}]*\}", " ", ja)), ja
    with pytest.raises(ResultInvalid) as caught:
        parse_result(json.dumps(broken))
    assert str(caught.value).startswith("invalid CNI result: cniVersion is '0.4.0'")
    assert caught.value.in_lang("ja").startswith(
        "CNI の結果の形式が誤っています: cniVersion が '0.4.0' です（'1.0.0' のはず）; "
        "interfaces[0] に name がありません")


def test_garbage_on_stdout_is_quoted_as_it_was_in_both_languages() -> None:
    with pytest.raises(ResultInvalid) as caught:
        parse_result("%%garbage ok\n")
    assert str(caught.value) == "result is not JSON: '%%garbage ok'"
    assert caught.value.in_lang("ja") == "結果が JSON ではありません: '%%garbage ok'"


# -- the grade keeps both wordings, the JSON result too ----------------------------------------
def _grade() -> Grade:
    by_item: dict[str, list[TestResult]] = {
        item.id: [TestResult(f"test_{item.id}", Outcome.PASSED)] for item in checklist.ITEMS}
    by_item["veth"] = [TestResult(
        "test_veth", Outcome.FAILED, "blocked by cni: ADD for c1 crashed: killed by SIGSEGV",
        message_ja="blocked by cni: c1 の ADD がクラッシュしました: SIGSEGV で強制終了")]
    extras = {"cni": [TestResult("test_add", Outcome.FAILED,
                                 "ADD for c1 crashed: killed by SIGSEGV",
                                 message_ja="c1 の ADD がクラッシュしました: SIGSEGV で強制終了")]}
    return build("cni:./p", "sim", by_item, extras=extras, notes=("a note",),
                 notes_ja=("注記",))


def test_a_grade_renders_its_reasons_in_the_chosen_language_and_json_keeps_both() -> None:
    grade = _grade()
    veth = grade.items[[i.id for i in checklist.ITEMS].index("veth")].tests[0]
    assert veth.blocked_by == "cni" and veth.message == "ADD for c1 crashed: killed by SIGSEGV"
    assert veth.said("ja") == "c1 の ADD がクラッシュしました: SIGSEGV で強制終了"
    for fmt in (Format.TABLE, Format.MARKDOWN, Format.GRADESCOPE):
        ja, en = render(grade, fmt, lang="ja"), render(grade, fmt, lang="en")
        assert "c1 の ADD がクラッシュしました" in ja and "注記" in ja and "ADD for c1" not in ja
        assert "ADD for c1 crashed: killed by SIGSEGV" in en and not KANA.search(en)
    data = json.loads(render(grade, Format.JSON, lang="ja"))
    assert data == json.loads(render(grade, Format.JSON, lang="en")) | {
        "items": data["items"]}  # only the hints follow --lang
    assert data["root_causes"][0]["reason"] == "ADD for c1 crashed: killed by SIGSEGV"
    assert data["root_causes"][0]["reason_ja"] == veth.message_ja
    assert data["notes"] == ["a note"] and data["notes_ja"] == ["注記"]
    again = jsonfmt.load(json.dumps(data))
    for fmt in (Format.TABLE, Format.MARKDOWN, Format.GRADESCOPE):
        for lang in ("ja", "en"):
            assert render(again, fmt, lang=lang) == render(grade, fmt, lang=lang)


def test_the_runner_keeps_the_japanese_wording_a_check_ended_with(tmp_path: Path) -> None:
    """A CtrnetError's `ja`, the CNI checks' Blocked given a plugin failure's Japanese and
    their Finding reach the grade; a plain assertion has none (its English stands)."""
    suite = tmp_path / "test_worded.py"
    suite.write_text(
        "from ctrnet.conformance.cni.network import Blocked, Finding\n"
        "from ctrnet.errors import InvalidConfig\n"
        "def test_error():\n"
        "    raise InvalidConfig('subnet is bad', ja='サブネットが誤り')\n"
        "def test_blocked():\n"
        "    raise Blocked('cni', 'ADD for c1 failed', ja='c1 の ADD が失敗')\n"
        "def test_finding():\n"
        "    raise Finding('ips is not a list', ja='ips がリストではありません')\n"
        "def test_plain():\n"
        "    assert False, 'plain words'\n", encoding="utf-8")
    collector = Collector()
    assert pytest.main([str(suite), "-q", "-p", "no:cacheprovider", "--rootdir",
                        str(tmp_path)], plugins=[collector]) == 1
    got = {t.name: t for t in (classify(r) for r in collector.results.values())}
    assert (got["test_error"].message, got["test_error"].said("ja")) == (
        "subnet is bad", "サブネットが誤り")
    assert got["test_blocked"].blocked_by == "cni"
    assert (got["test_blocked"].message, got["test_blocked"].said("ja")) == (
        "ADD for c1 failed", "c1 の ADD が失敗")
    assert got["test_finding"].said("ja") == "ips がリストではありません"
    assert got["test_finding"].message == "ips is not a list"
    assert got["test_plain"].message_ja == "" and got["test_plain"].said("ja") == "plain words"


def test_a_plugin_that_cannot_start_here_is_said_so_in_japanese() -> None:
    call = _call(1, stderr="ModuleNotFoundError: No module named 'pyroute2'\n")
    by_item = {"veth": [TestResult("test_veth", Outcome.FAILED,
                                   f"blocked by cni: {call.reason(10)}",
                                   message_ja=f"blocked by cni: {call.reason(10, 'ja')}")]}
    grade = build("cni:./p", "sim", by_item)
    assert grade.exit_status == 2
    assert grade.error == ("the plugin cannot start here: its Python has no module 'pyroute2' "
                           "(install it for the interpreter of the plugin's #! line: python3 -m "
                           "pip install pyroute2)")
    assert grade.error_in("ja") == (
        "プラグインはここでは起動できません: その Python にモジュール 'pyroute2' がありません"
        "（プラグインの #! 行のインタプリタに入れる: python3 -m pip install pyroute2）")


def test_an_error_has_its_japanese_wording_and_an_english_only_result_still_loads() -> None:
    grade = build("cni:/x", "sim", {}, error="CNI plugin /x does not exist",
                  error_ja="CNI プラグイン /x は存在しません")
    assert grade.error_in("ja") == "CNI プラグイン /x は存在しません"
    assert "CNI プラグイン /x は存在しません" in render(grade, Format.TABLE, lang="ja")
    data = json.loads(render(grade, Format.JSON))
    assert data["error"] == "CNI plugin /x does not exist"
    del data["error_ja"]
    old = jsonfmt.load(json.dumps(data))
    assert old.error_in("ja") == old.error_in("en") == "CNI plugin /x does not exist"


# -- the class summary and the progress ---------------------------------------------------------
def test_the_class_summary_and_its_progress_speak_japanese() -> None:
    outcomes = [ClassOutcome("alice", 1, 5, items={"veth": "passed", "ipam": "failed"},
                             first_fix="ipam: c2 got c1's address",
                             first_fix_ja="ipam: c2 に c1 のアドレスが割り当てられた"),
                ClassOutcome("bob", 2, error="CNI plugin x does not exist",
                             error_ja="CNI プラグイン x は存在しません")]
    page = summary_markdown(outcomes, "sim", "ja")
    assert page.startswith("# クラスの採点結果（sim バックエンド）\n")
    assert "| 学生 | 得点 |" in page and "まず直すこと" in page
    assert "合格" in page and "不合格" in page
    assert "ipam: c2 に c1 のアドレスが割り当てられた" in page
    assert "採点できませんでした: CNI プラグイン x は存在しません" in page
    assert page.rstrip().endswith("2 人中 0 人がすべての項目に合格。")
    html = summary_html(outcomes, "sim", "ja")
    assert '<html lang="ja">' in html and "まず直すこと" in html
    english = summary_markdown(outcomes, "sim")
    assert "could not grade: CNI plugin x does not exist" in english and not KANA.search(english)
    lines: list[str] = []
    progress = Progress(2, lines.append, lang="ja")
    for outcome in outcomes:
        progress.finished(outcome)
    assert lines[1].endswith("bob: 採点できませんでした: CNI プラグイン x は存在しません (0 秒)\n")


def test_the_grades_progress_lines_follow_the_language(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "test_two.py"
    suite.write_text("def test_a(): pass\ndef test_b(): pass\n")
    i18n.set_lang("ja")
    code = pytest.main([str(suite), "-q", "-p", "no:cacheprovider", "-p",
                        "ctrnet.grade.progress", "--rootdir", str(tmp_path)])
    assert code == 0
    assert "ctrnet grade: 2 件中 2 件の確認が終了" in capfd.readouterr().err


# -- the command line ----------------------------------------------------------------------------
def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "CTRNET"))}
    return subprocess.run([sys.executable, "-m", "ctrnet.cli", "grade", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


#: (arguments, the English line as it stays, the Japanese line).
REFUSALS = [
    (["--impl", "cni:/nonexistent"],
     "ctrnet grade: CNI plugin /nonexistent does not exist",
     "ctrnet grade: CNI プラグイン /nonexistent は存在しません"),
    (["--format", "tabel"],
     "ctrnet grade: --format: unknown format 'tabel'; formats are table, json, gradescope, "
     "junit, markdown",
     "ctrnet grade: --format: 形式 'tabel' はありません。形式は table, json, gradescope, junit, "
     "markdown です"),
    (["--format", "table,json"],
     "ctrnet grade: several formats need --output-dir DIR (one file per format)",
     "ctrnet grade: 複数の形式には --output-dir DIR が必要です（形式ごとに 1 ファイル）"),
    (["--class", "/nonexistent-class"],
     "ctrnet grade: --class /nonexistent-class: no such directory or roster file",
     "ctrnet grade: --class /nonexistent-class: そのようなディレクトリも名簿ファイルもありません"),
]


@pytest.mark.parametrize(("argv", "english", "japanese"), REFUSALS,
                         ids=[" ".join(r[0]) for r in REFUSALS])
def test_a_refusal_is_one_japanese_line_and_the_english_line_is_unchanged(
        argv: list[str], english: str, japanese: str, tmp_path: Path) -> None:
    for lang, line in (("en", english), ("ja", japanese)):
        done = _cli("--lang", lang, "--backend", "sim", "--quiet", *argv, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines()[-1] == line, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr


def test_a_crashing_plugin_is_reported_in_japanese_and_again_in_english(tmp_path: Path) -> None:
    """One real grade (on the simulator): a plugin that prints garbage and exits 1."""
    plugin = tmp_path / "crash"
    plugin.write_text("#!/bin/sh\necho '%%garbage' \necho 'segfault at 0 ip 0' >&2\nexit 1\n")
    plugin.chmod(0o755)
    out = tmp_path / "out"
    done = _cli("--lang", "ja", "--impl", f"cni:{plugin}", "--backend", "sim", "--quiet",
                "--format", "table,json", "--output-dir", str(out), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    why_ja = ("c1 の ADD が CNI のエラー結果を出さずに終了コード 1 で終了しました: "
              "'segfault at 0 ip 0'")
    why_en = "ADD for c1 exited 1 without a CNI error result: 'segfault at 0 ip 0'"
    report = (out / "report.txt").read_text(encoding="utf-8")
    assert report == done.stdout
    assert f"まず直すこと — cni: {why_ja} (test_add_attaches_a_container)" in report
    assert f"cni が原因で判定できない ({why_ja})" in report
    assert "ADD for" not in report and "得点: 0/6" in report
    data = json.loads((out / "grade.json").read_text(encoding="utf-8"))
    assert data["root_causes"][0]["reason"] == why_en  # the JSON result stays English
    assert data["root_causes"][0]["reason_ja"] == why_ja
    again = _cli("report", str(out / "grade.json"), "--lang", "en", cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    assert f"Fix this first — cni: {why_en} (test_add_attaches_a_container)" in again.stdout
    assert f"blocked by cni ({why_en})" in again.stdout
    assert not KANA.search(again.stdout.replace("§", ""))
