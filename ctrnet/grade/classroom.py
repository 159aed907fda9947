"""`ctrnet grade --class DIR|ROSTER`: a whole class in one command.

The submissions: every executable file directly in DIR (the student is the file's name),
and every subdirectory of DIR holding one executable file (or one called `plugin`; the
student is the directory's name); or a roster, a CSV file of `student,path` lines (a path
relative to the roster's directory; `#` starts a comment). Each submission is graded in a
process of its own (`ctrnet grade --output-dir`, so each plugin runs in its own sandbox and
world), as many at once as `--jobs` (default: the machine's cores), with a line of progress
per finished submission on stderr. Out of it, under `--output-dir` (default `grades/`):

    STUDENT/report.txt, grade.json, results.json, junit.xml, report.md   every format
    summary.csv, summary.md, summary.html    student × item, score, the first thing to fix

Resumable: a submission whose reports are complete for the same plugin (its SHA-256) and
backend is not graded again, so an interrupted run continues where it stopped.
Exit status: 0 when every submission passes every item, 1 when one does not, 2 when a
submission could not be graded (or the class cannot be read).

People read the progress, the students' reports and summary.md / summary.html in the chosen
language (`lang`); summary.csv, for scripts, is English (what a submission's own run said
when it left no JSON result is quoted as it said it).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ctrnet.errors import CtrnetError
from ctrnet.grade import jsonfmt
from ctrnet.grade.checklist import ITEMS
from ctrnet.grade.model import Grade, Status
from ctrnet.grade.report import FILENAMES, Format
from ctrnet.grade.wording import word

#: A student's name becomes a directory name: letters, digits and . _ @ + - only.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
#: Written last in a student's directory: the reports there are complete for this plugin.
DONE = "done.json"
_CLI = "import sys; from ctrnet.cli import main; sys.exit(main(sys.argv[1:]))"


class ClassError(CtrnetError):
    """The class cannot be read (a missing directory, a bad roster line, a bad name)."""


def _in(lang: str, en: str, ja: str) -> str:
    """`en` or `ja`, whichever `lang` is (the class's language, given to `run_class`)."""
    return ja if lang == "ja" else en


@dataclass(frozen=True)
class Submission:
    student: str
    plugin: Path


@dataclass
class Outcome:
    """One graded (or not gradable) submission, as the summary shows it."""

    student: str
    exit_status: int
    score: int = 0
    max_score: int = len(ITEMS)
    #: item id -> "passed", "failed", "blocked", "no_evidence"
    items: dict[str, str] = field(default_factory=dict)
    first_fix: str = ""
    seconds: float = 0.0
    error: str = ""
    resumed: bool = False
    #: `first_fix` and `error` in Japanese ("": the English one stands for it).
    first_fix_ja: str = ""
    error_ja: str = ""

    def fix(self, lang: str) -> str:
        """What the summary says to fix first in `lang`: the error, else the first fix."""
        if self.error:
            error = self.error_ja or self.error if lang == "ja" else self.error
            return _in(lang, f"could not grade: {error}", f"採点できませんでした: {error}")
        return self.first_fix_ja or self.first_fix if lang == "ja" else self.first_fix


def _check_name(name: str, where: str) -> str:
    if not _NAME.match(name):
        raise ClassError(f"{where}: {name!r} is not a usable student name (letters, digits "
                         "and . _ @ + - only, starting with a letter or digit)",
                         ja=f"{where}: {name!r} は学生の名前に使えません（英数字と . _ @ + - "
                            "だけ、先頭は英数字）")
    return name


def _executables(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith(".") and os.access(p, os.X_OK))


def find_submissions(source: Path) -> list[Submission]:
    """The class in `source`: a directory of submissions or a roster file."""
    if source.is_file():
        return _roster(source)
    if not source.is_dir():
        raise ClassError(f"--class {source}: no such directory or roster file",
                         ja=f"--class {source}: そのようなディレクトリも名簿ファイルもありません")
    found: list[Submission] = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            named = entry / "plugin"
            candidates = [named] if named.is_file() else _executables(entry)
            if len(candidates) != 1:
                raise ClassError(f"{entry}: expected one executable plugin file (or one called "
                                 f"`plugin`), found {len(candidates) or 'none'}",
                                 ja=f"{entry}: 実行可能なプラグインのファイル（または `plugin` "
                                    f"という名前のもの）が 1 つのはずですが、"
                                    f"{len(candidates) or 0} 個あります")
            found.append(Submission(_check_name(entry.name, str(entry)), candidates[0]))
        elif entry.is_file() and os.access(entry, os.X_OK):
            found.append(Submission(_check_name(entry.name, str(entry)), entry))
    if not found:
        raise ClassError(f"--class {source}: no submission found (executable files, or "
                         "directories holding one)",
                         ja=f"--class {source}: 提出物が見つかりません（実行可能なファイル、"
                            "またはそれを 1 つ持つディレクトリ）")
    return found


def _roster(path: Path) -> list[Submission]:
    found: list[Submission] = []
    seen: set[str] = set()
    text = path.read_text(encoding="utf-8")
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2:
            raise ClassError(f"{path}:{number}: expected `student,path`, got {','.join(row)!r}",
                             ja=f"{path}:{number}: `student,path` のはずが "
                                f"{','.join(row)!r} です")
        student = _check_name(row[0].strip(), f"{path}:{number}")
        if student in seen:
            raise ClassError(f"{path}:{number}: student {student!r} is listed twice",
                             ja=f"{path}:{number}: 学生 {student!r} が 2 回載っています")
        seen.add(student)
        found.append(Submission(student, (path.parent / row[1].strip()).resolve()))
    if not found:
        raise ClassError(f"{path}: the roster lists no submission",
                         ja=f"{path}: 名簿に提出物が 1 つもありません")
    return found


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _outcome(student: str, grade: Grade, exit_status: int, seconds: float, lang: str,
             ) -> Outcome:
    causes = grade.root_causes() if grade.error is None else []
    first = causes[0] if causes else None
    return Outcome(
        student=student, exit_status=exit_status, score=grade.score,
        max_score=grade.max_score,
        items={r.item.id: r.status.value for r in grade.items} if grade.error is None else {},
        first_fix=(f"{first.where}: {first.reason}" if first is not None else ""),
        seconds=seconds, error=grade.error or "",
        first_fix_ja=(f"{first.where}: {first.said('ja')}" if first is not None else ""),
        error_ja=grade.error_in("ja") or "")


def _resumed(submission: Submission, out: Path, backend: str, lang: str) -> Outcome | None:
    """The earlier outcome when this submission's reports are complete for the same plugin
    and backend (an interrupted run continues where it stopped)."""
    try:
        done = json.loads((out / DONE).read_text(encoding="utf-8"))
        if done.get("sha256") != _digest(submission.plugin) or done.get("backend") != backend:
            return None
        grade = jsonfmt.load((out / FILENAMES[Format.JSON]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outcome = _outcome(submission.student, grade, int(done.get("exit_status", 2)),
                       float(done.get("seconds", 0.0)), lang)
    outcome.resumed = True
    return outcome


def grade_one(submission: Submission, out: Path, *, backend: str, lang: str,
              timeout: float | None) -> Outcome:
    """Grade one submission in a process of its own; its reports go to `out`."""
    if not submission.plugin.is_file():
        return Outcome(submission.student, 2, error=f"{submission.plugin} does not exist",
                       error_ja=f"{submission.plugin} は存在しません")
    resumed = _resumed(submission, out, backend, lang)
    if resumed is not None:
        return resumed
    (out / DONE).unlink(missing_ok=True)
    argv = [sys.executable, "-c", _CLI, "grade", f"--impl=cni:{submission.plugin}",
            f"--backend={backend}", f"--lang={lang}", "--quiet", f"--output-dir={out}",
            "--format=" + ",".join(f.value for f in FILENAMES)]
    if timeout is not None:
        argv.append(f"--timeout={timeout:g}")
    start = time.monotonic()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - start
    try:
        grade = jsonfmt.load((out / FILENAMES[Format.JSON]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return Outcome(submission.student, 2, seconds=seconds, error=said, error_ja=said)
    outcome = _outcome(submission.student, grade, done.returncode, seconds, lang)
    (out / DONE).write_text(json.dumps({
        "sha256": _digest(submission.plugin), "backend": backend,
        "exit_status": done.returncode, "seconds": round(seconds, 3)}), encoding="utf-8")
    return outcome


# -- the summary -------------------------------------------------------------------------
_MARKS = {Status.PASSED.value: "pass", Status.FAILED.value: "FAIL",
          Status.BLOCKED.value: "blocked", Status.NO_EVIDENCE.value: "—"}


_MARKS_JA = {Status.PASSED.value: word("pass", "ja"), Status.FAILED.value: word("fail", "ja"),
             Status.BLOCKED.value: word("blocked", "ja"), Status.NO_EVIDENCE.value: "—"}


def _cells(outcome: Outcome, lang: str = "en") -> list[str]:
    marks = _MARKS_JA if lang == "ja" else _MARKS
    return [marks.get(outcome.items.get(item.id, ""), "") for item in ITEMS]


def summary_csv(outcomes: list[Outcome]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "score", "max", *[i.id for i in ITEMS], "first_fix",
                     "seconds", "error"])
    for o in outcomes:
        writer.writerow([o.student, o.score, o.max_score, *[o.items.get(i.id, "")
                                                             for i in ITEMS],
                         o.first_fix, f"{o.seconds:.1f}", o.error])
    return out.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _title(backend: str, lang: str) -> str:
    return _in(lang, f"Class grades ({backend} backend)",
               f"クラスの採点結果（{backend} バックエンド）")


def _columns(lang: str) -> tuple[str, str, str]:
    """The headings of the student, score and fix-first columns."""
    return (_in(lang, "student", "学生"), _in(lang, "score", "得点"),
            _in(lang, "fix first", "まず直すこと"))


def summary_markdown(outcomes: list[Outcome], backend: str, lang: str = "en") -> str:
    student, score, fix_first = _columns(lang)
    lines = [f"# {_title(backend, lang)}", "",
             f"| {student} | {score} | " + " | ".join(i.id for i in ITEMS) + f" | {fix_first} |",
             "|---|---|" + "---|" * len(ITEMS) + "---|"]
    for o in outcomes:
        lines.append(f"| {_md(o.student)} | {o.score}/{o.max_score} | "
                     + " | ".join(_cells(o, lang)) + f" | {_md(o.fix(lang))} |")
    passed = sum(1 for o in outcomes if o.exit_status == 0)
    lines += ["", _in(lang, f"{passed} of {len(outcomes)} pass every item.",
                      f"{len(outcomes)} 人中 {passed} 人がすべての項目に合格。")]
    return "\n".join(lines) + "\n"


def summary_html(outcomes: list[Outcome], backend: str, lang: str = "en") -> str:
    def row(o: Outcome) -> str:
        cells = "".join(f'<td class="{html.escape(o.items.get(i.id, ""))}">{html.escape(c)}'
                        "</td>" for i, c in zip(ITEMS, _cells(o, lang), strict=True))
        link = f'<a href="{html.escape(o.student)}/report.md">{html.escape(o.student)}</a>'
        return (f"<tr><td>{link}</td><td>{o.score}/{o.max_score}</td>{cells}"
                f"<td>{html.escape(o.fix(lang))}</td></tr>")

    student, score, fix_first = _columns(lang)
    title = html.escape(_title(backend, lang))
    head = "".join(f"<th>{html.escape(i.id)}</th>" for i in ITEMS)
    tag = '<html lang="ja">' if lang == "ja" else "<html>"
    return (f"<!doctype html>\n{tag}<head>"
            f"<meta charset=\"utf-8\"><title>{_in(lang, 'Class grades', 'クラスの採点結果')}"
            "</title><style>td,th{border:1px solid #ccc;padding:2px 6px}.failed{background:#fcc}"
            ".passed{background:#cfc}.blocked{background:#eee}</style></head><body>"
            f"<h1>{title}</h1><table><tr><th>{student}"
            f"</th><th>{score}</th>{head}<th>{fix_first}</th></tr>\n"
            + "\n".join(row(o) for o in outcomes) + "\n</table></body></html>\n")


# -- running a class ---------------------------------------------------------------------
@dataclass
class Progress:
    """One line per finished submission on `stream`: a bar, the count, the verdict."""

    total: int
    write: Callable[[str], object]
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    lang: str = "en"

    def finished(self, outcome: Outcome) -> None:
        lang = self.lang
        with self.lock:
            self.done += 1
            width = 20
            filled = width * self.done // max(self.total, 1)
            error = outcome.error_ja or outcome.error if lang == "ja" else outcome.error
            verdict = (_in(lang, f"could not grade: {error}", f"採点できませんでした: {error}")
                       if outcome.exit_status == 2 else f"{outcome.score}/{outcome.max_score}")
            how = (_in(lang, "kept", "前回のまま") if outcome.resumed
                   else _in(lang, f"{outcome.seconds:.0f} s", f"{outcome.seconds:.0f} 秒"))
            self.write(f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                       f"{outcome.student}: {verdict} ({how})\n")


def run_class(source: Path, out: Path, *, backend: str, lang: str, jobs: int | None = None,
              timeout: float | None = None, quiet: bool = False) -> int:
    """Grade the class in `source` into `out`; the exit status (see the module's doc)."""
    submissions = find_submissions(source)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, jobs or os.cpu_count() or 1)
    progress = Progress(len(submissions), (lambda text: None) if quiet else sys.stderr.write,
                        lang=lang)

    def one(submission: Submission) -> Outcome:
        outcome = grade_one(submission, out / submission.student, backend=backend,
                            lang=lang, timeout=timeout)
        progress.finished(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, submissions))
    (out / "summary.csv").write_text(summary_csv(outcomes), encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(outcomes, backend, lang),
                                    encoding="utf-8")
    (out / "summary.html").write_text(summary_html(outcomes, backend, lang), encoding="utf-8")
    if not quiet:
        passed = sum(1 for o in outcomes if o.exit_status == 0)
        where = out / "summary.md"
        sys.stderr.write(_in(lang, f"ctrnet grade: {passed}/{len(outcomes)} pass every item -> "
                                   f"{where}\n",
                             f"ctrnet grade: {len(outcomes)} 人中 {passed} 人がすべての項目に"
                             f"合格 -> {where}\n"))
    return max((min(o.exit_status, 2) for o in outcomes), default=0)
