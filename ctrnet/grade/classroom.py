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

from ctrnet.grade import jsonfmt
from ctrnet.grade.checklist import ITEMS
from ctrnet.grade.model import Grade, Status
from ctrnet.grade.report import FILENAMES, Format

#: A student's name becomes a directory name: letters, digits and . _ @ + - only.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
#: Written last in a student's directory: the reports there are complete for this plugin.
DONE = "done.json"
_CLI = "import sys; from ctrnet.cli import main; sys.exit(main(sys.argv[1:]))"


class ClassError(Exception):
    """The class cannot be read (a missing directory, a bad roster line, a bad name)."""


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


def _check_name(name: str, where: str) -> str:
    if not _NAME.match(name):
        raise ClassError(f"{where}: {name!r} is not a usable student name (letters, digits "
                         "and . _ @ + - only, starting with a letter or digit)")
    return name


def _executables(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and not p.name.startswith(".") and os.access(p, os.X_OK))


def find_submissions(source: Path) -> list[Submission]:
    """The class in `source`: a directory of submissions or a roster file."""
    if source.is_file():
        return _roster(source)
    if not source.is_dir():
        raise ClassError(f"--class {source}: no such directory or roster file")
    found: list[Submission] = []
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            named = entry / "plugin"
            candidates = [named] if named.is_file() else _executables(entry)
            if len(candidates) != 1:
                raise ClassError(f"{entry}: expected one executable plugin file (or one called "
                                 f"`plugin`), found {len(candidates) or 'none'}")
            found.append(Submission(_check_name(entry.name, str(entry)), candidates[0]))
        elif entry.is_file() and os.access(entry, os.X_OK):
            found.append(Submission(_check_name(entry.name, str(entry)), entry))
    if not found:
        raise ClassError(f"--class {source}: no submission found (executable files, or "
                         "directories holding one)")
    return found


def _roster(path: Path) -> list[Submission]:
    found: list[Submission] = []
    seen: set[str] = set()
    text = path.read_text(encoding="utf-8")
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) != 2:
            raise ClassError(f"{path}:{number}: expected `student,path`, got {','.join(row)!r}")
        student = _check_name(row[0].strip(), f"{path}:{number}")
        if student in seen:
            raise ClassError(f"{path}:{number}: student {student!r} is listed twice")
        seen.add(student)
        found.append(Submission(student, (path.parent / row[1].strip()).resolve()))
    if not found:
        raise ClassError(f"{path}: the roster lists no submission")
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
        seconds=seconds, error=grade.error or "")


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
        return Outcome(submission.student, 2, error=f"{submission.plugin} does not exist")
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
        return Outcome(submission.student, 2, seconds=seconds, error=said)
    outcome = _outcome(submission.student, grade, done.returncode, seconds, lang)
    (out / DONE).write_text(json.dumps({
        "sha256": _digest(submission.plugin), "backend": backend,
        "exit_status": done.returncode, "seconds": round(seconds, 3)}), encoding="utf-8")
    return outcome


# -- the summary -------------------------------------------------------------------------
_MARKS = {Status.PASSED.value: "pass", Status.FAILED.value: "FAIL",
          Status.BLOCKED.value: "blocked", Status.NO_EVIDENCE.value: "—"}


def _cells(outcome: Outcome) -> list[str]:
    return [_MARKS.get(outcome.items.get(item.id, ""), "") for item in ITEMS]


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


def summary_markdown(outcomes: list[Outcome], backend: str) -> str:
    lines = [f"# Class grades ({backend} backend)", "",
             "| student | score | " + " | ".join(i.id for i in ITEMS) + " | fix first |",
             "|---|---|" + "---|" * len(ITEMS) + "---|"]
    for o in outcomes:
        fix = o.error and f"could not grade: {o.error}" or o.first_fix
        lines.append(f"| {_md(o.student)} | {o.score}/{o.max_score} | "
                     + " | ".join(_cells(o)) + f" | {_md(fix)} |")
    passed = sum(1 for o in outcomes if o.exit_status == 0)
    lines += ["", f"{passed} of {len(outcomes)} pass every item."]
    return "\n".join(lines) + "\n"


def summary_html(outcomes: list[Outcome], backend: str) -> str:
    def row(o: Outcome) -> str:
        cells = "".join(f'<td class="{html.escape(o.items.get(i.id, ""))}">{html.escape(c)}'
                        "</td>" for i, c in zip(ITEMS, _cells(o), strict=True))
        fix = o.error and f"could not grade: {o.error}" or o.first_fix
        link = f'<a href="{html.escape(o.student)}/report.md">{html.escape(o.student)}</a>'
        return (f"<tr><td>{link}</td><td>{o.score}/{o.max_score}</td>{cells}"
                f"<td>{html.escape(fix)}</td></tr>")

    head = "".join(f"<th>{html.escape(i.id)}</th>" for i in ITEMS)
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Class grades</title>"
            "<style>td,th{border:1px solid #ccc;padding:2px 6px}.failed{background:#fcc}"
            ".passed{background:#cfc}.blocked{background:#eee}</style></head><body>"
            f"<h1>Class grades ({html.escape(backend)} backend)</h1><table><tr><th>student"
            f"</th><th>score</th>{head}<th>fix first</th></tr>\n"
            + "\n".join(row(o) for o in outcomes) + "\n</table></body></html>\n")


# -- running a class ---------------------------------------------------------------------
@dataclass
class Progress:
    """One line per finished submission on `stream`: a bar, the count, the verdict."""

    total: int
    write: Callable[[str], object]
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finished(self, outcome: Outcome) -> None:
        with self.lock:
            self.done += 1
            width = 20
            filled = width * self.done // max(self.total, 1)
            verdict = (f"could not grade: {outcome.error}" if outcome.exit_status == 2
                       else f"{outcome.score}/{outcome.max_score}")
            how = "kept" if outcome.resumed else f"{outcome.seconds:.0f} s"
            self.write(f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                       f"{outcome.student}: {verdict} ({how})\n")


def run_class(source: Path, out: Path, *, backend: str, lang: str, jobs: int | None = None,
              timeout: float | None = None, quiet: bool = False) -> int:
    """Grade the class in `source` into `out`; the exit status (see the module's doc)."""
    submissions = find_submissions(source)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, jobs or os.cpu_count() or 1)
    progress = Progress(len(submissions), (lambda text: None) if quiet else sys.stderr.write)

    def one(submission: Submission) -> Outcome:
        outcome = grade_one(submission, out / submission.student, backend=backend,
                            lang=lang, timeout=timeout)
        progress.finished(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(one, submissions))
    (out / "summary.csv").write_text(summary_csv(outcomes), encoding="utf-8")
    (out / "summary.md").write_text(summary_markdown(outcomes, backend), encoding="utf-8")
    (out / "summary.html").write_text(summary_html(outcomes, backend), encoding="utf-8")
    if not quiet:
        passed = sum(1 for o in outcomes if o.exit_status == 0)
        sys.stderr.write(f"ctrnet grade: {passed}/{len(outcomes)} pass every item -> "
                         f"{out / 'summary.md'}\n")
    return max((min(o.exit_status, 2) for o in outcomes), default=0)
