"""`ctrnet grade --class`: finding a class's submissions (a directory or a roster), grading
them all into every format plus one summary, and continuing an interrupted run."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctrnet.grade.checklist import ITEMS
from ctrnet.grade.classroom import (
    DONE,
    ClassError,
    Outcome,
    _resumed,
    find_submissions,
    summary_csv,
    summary_html,
    summary_markdown,
)

#: Refuses every call at once: a full grade that is fast, every item failing for a reason.
REFUSES = ("#!/bin/sh\necho '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"not yet\"}'\n"
           "exit 1\n")


def _plugin(path: Path, body: str = REFUSES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    path.chmod(0o755)
    return path


def test_a_directory_holds_plugins_and_folders_of_one_plugin_each(tmp_path: Path) -> None:
    _plugin(tmp_path / "alice")
    _plugin(tmp_path / "bob" / "plugin")
    (tmp_path / "bob" / "README.md").write_text("notes")
    _plugin(tmp_path / "carol" / "my-cni")
    (tmp_path / "notes.txt").write_text("not executable: not a submission")
    found = find_submissions(tmp_path)
    assert [(s.student, s.plugin.relative_to(tmp_path).as_posix()) for s in found] == [
        ("alice", "alice"), ("bob", "bob/plugin"), ("carol", "carol/my-cni")]


def test_a_folder_with_two_plugins_is_named(tmp_path: Path) -> None:
    _plugin(tmp_path / "dave" / "a")
    _plugin(tmp_path / "dave" / "b")
    with pytest.raises(ClassError, match=r"dave: expected one executable plugin file .* found 2"):
        find_submissions(tmp_path)


def test_a_roster_lists_students_and_paths_relative_to_itself(tmp_path: Path) -> None:
    _plugin(tmp_path / "subs" / "x1")
    roster = tmp_path / "roster.csv"
    roster.write_text("# student,path\nalice,subs/x1\n\nbob, subs/missing\n")
    found = find_submissions(roster)
    assert [(s.student, s.plugin) for s in found] == [
        ("alice", tmp_path / "subs" / "x1"), ("bob", tmp_path / "subs" / "missing")]


@pytest.mark.parametrize("line, message", [
    ("../etc,subs/x", "not a usable student name"),
    ("alice", "expected `student,path`"),
    ("alice,a\nalice,b", "listed twice"),
])
def test_a_bad_roster_line_is_one_clear_error(tmp_path: Path, line: str, message: str) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(line + "\n")
    with pytest.raises(ClassError, match=message):
        find_submissions(roster)


def test_the_summaries_show_student_by_item_and_the_first_thing_to_fix() -> None:
    outcomes = [
        Outcome("alice", 1, 5, 6, {i.id: "passed" for i in ITEMS} | {"netlink": "failed"},
                "netlink: the plugin ran `ip link add`", 41.0),
        Outcome("bob|<b>", 2, error="CNI plugin x does not exist"),
    ]
    rows = list(csv.reader(io.StringIO(summary_csv(outcomes))))
    assert rows[0] == ["student", "score", "max", *[i.id for i in ITEMS], "first_fix",
                       "seconds", "error"]
    assert rows[1][:3] == ["alice", "5", "6"] and rows[1][3 + 3] == "failed"
    markdown = summary_markdown(outcomes, "sim")
    assert "| alice | 5/6 | pass | pass | pass | FAIL | pass | pass | netlink: " in markdown
    assert "bob\\|<b>" in markdown and "could not grade: CNI plugin x does not exist" in markdown
    page = summary_html(outcomes, "sim")
    assert "bob|&lt;b&gt;" in page and "<b>" not in page.replace("<body>", "")


def _ctrnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from ctrnet.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", *args],
                          capture_output=True, text=True, timeout=600)


def test_a_class_is_graded_into_every_format_and_one_summary_then_resumed(
        tmp_path: Path) -> None:
    klass = tmp_path / "class"
    _plugin(klass / "alice")
    _plugin(klass / "bob" / "plugin")
    out = tmp_path / "grades"
    done = _ctrnet("grade", "--class", str(klass), "--output-dir", str(out), "--lang", "en",
                   "--timeout", "2")
    assert done.returncode == 1, done.stderr  # graded, and not every item passes
    assert "2/2 bob" in done.stderr or "2/2 alice" in done.stderr  # progress, per submission
    for student in ("alice", "bob"):
        assert sorted(p.name for p in (out / student).iterdir()) == sorted(
            [DONE, "grade.json", "junit.xml", "report.md", "report.txt", "results.json"])
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text())))
    assert [(r["student"], r["score"]) for r in rows] == [("alice", "0"), ("bob", "0")]
    assert all("not yet" in r["first_fix"] for r in rows), rows
    assert (out / "summary.md").exists() and (out / "summary.html").exists()

    # Interrupted after alice: bob's reports were never completed.
    (out / "bob" / DONE).unlink()
    kept = json.loads((out / "alice" / DONE).read_text())
    again = _ctrnet("grade", "--class", str(klass), "--output-dir", str(out), "--lang", "en",
                    "--timeout", "2")
    assert again.returncode == 1, again.stderr
    assert "alice: 0/6 (kept)" in again.stderr
    assert "bob: 0/6 (kept)" not in again.stderr
    assert json.loads((out / "alice" / DONE).read_text()) == kept
    assert (out / "bob" / DONE).exists()

    # A new version of alice's plugin is not taken for the one graded.
    _plugin(klass / "alice", REFUSES + "# v2\n")
    [alice, bob] = find_submissions(klass)
    assert _resumed(alice, out / "alice", "sim", "en") is None
    assert _resumed(bob, out / "bob", "sim", "en") is not None
    assert _resumed(bob, out / "bob", "kernel", "en") is None  # nor on another backend


def test_a_class_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    done = _ctrnet("grade", "--class", str(tmp_path / "nowhere"), "--lang", "en")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"ctrnet grade: --class {tmp_path / 'nowhere'}: no such directory or roster file"]


def test_class_mode_refuses_a_single_plugin_option(tmp_path: Path) -> None:
    done = _ctrnet("grade", "--class", str(tmp_path), "--impl", "cni:/bin/true")
    assert done.returncode == 2 and "no --impl" in done.stderr
    assert os.listdir(tmp_path) == []
