"""Grading where classes already run: the GitHub Actions / Classroom workflow is a valid
workflow (checked offline against GitHub's workflow schema, which check-jsonschema bundles)
whose grade command is one `ctrnet grade` accepts; the Gradescope bundle's run_autograder,
run against a fake /autograder tree, writes results.json in Gradescope's format."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctrnet.cli import build_parser

CI = Path(__file__).resolve().parent.parent / "ci"
WORKFLOW = CI / "github-classroom" / ".github" / "workflows" / "grade.yml"
GRADESCOPE = CI / "gradescope"


def _check_jsonschema() -> str:
    found = Path(sys.executable).with_name("check-jsonschema")
    path = str(found) if found.exists() else shutil.which("check-jsonschema")
    assert path, "check-jsonschema is a dev dependency (pip install -e '.[dev]')"
    return path


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_check_jsonschema(), "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=120)


def test_the_workflow_is_a_valid_github_workflow() -> None:
    done = _validate(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "grade.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest",
                                                   "runs_on: ubuntu-latest"))
    assert _validate(broken).returncode != 0


def test_the_workflows_grade_command_is_one_ctrnet_accepts() -> None:
    text = WORKFLOW.read_text()
    joined = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    match = re.search(r"ctrnet grade (.*?) \|\|", joined)
    assert match, "the workflow runs `ctrnet grade …`"
    words = shlex.split(match.group(1).replace("$PWD/$PLUGIN", "/x/plugin"))
    args = build_parser().parse_args(["grade", *words])
    assert (args.backend, args.output_dir) == ("kernel", "grade-report")
    assert set(args.format.split(",")) >= {"junit", "json", "markdown"}
    # The score the workflow publishes comes from the JSON report's keys.
    assert '"\\(.score)/\\(.max_score)"' in text and "grade-report/junit.xml" in text


def _autograder(tmp_path: Path, files: dict[str, str]) -> dict[str, object]:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    for name, body in files.items():
        (root / "submission" / name).write_text(body)  # uploads come without mode bits
    ctrnet = Path(sys.executable).with_name("ctrnet")
    env = {**os.environ, "CTRNET_AUTOGRADER_ROOT": str(root), "CTRNET_GRADER_USER": "",
           "CTRNET": str(ctrnet if ctrnet.exists() else shutil.which("ctrnet"))}
    done = subprocess.run([str(GRADESCOPE / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results: dict[str, object] = json.loads((root / "results" / "results.json").read_text())
    return results


def _gradescope_shape(results: dict[str, object]) -> None:
    """The keys Gradescope documents for results.json, with their types."""
    assert isinstance(results["score"], (int, float))
    assert isinstance(results.get("output", ""), str)
    tests = results["tests"]
    assert isinstance(tests, list)
    for test in tests:
        assert set(test) <= {"score", "max_score", "status", "name", "number", "output",
                             "tags", "visibility", "extra_data", "name_format",
                             "output_format"}
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"],
                                                                      (int, float))


def test_run_autograder_grades_the_submission_into_results_json(tmp_path: Path) -> None:
    # A plugin that refuses every call: fast, and every item fails for a stated reason.
    results = _autograder(tmp_path, {"plugin": "#!/bin/sh\n"
                                     "echo '{\"cniVersion\":\"1.0.0\",\"code\":11,"
                                     "\"msg\":\"not implemented yet\"}'\nexit 1\n"})
    _gradescope_shape(results)
    items = [t for t in results["tests"] if isinstance(t, dict) and t["max_score"] == 1]
    assert len(items) == 6
    assert results["score"] == 0
    assert "not implemented yet" in json.dumps(results)


def test_run_autograder_says_what_to_submit(tmp_path: Path) -> None:
    results = _autograder(tmp_path, {"a.sh": "#!/bin/sh\n", "b.sh": "#!/bin/sh\n"})
    _gradescope_shape(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "submit one file" in str(results["output"])


@pytest.mark.skipif(shutil.which("bash") is None, reason="the bundle's scripts are bash")
def test_the_bundle_scripts_parse() -> None:
    for name in ("setup.sh", "run_autograder", "make-bundle.sh"):
        done = subprocess.run(["bash", "-n", str(GRADESCOPE / name)], capture_output=True,
                              text=True)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert os.access(GRADESCOPE / name, os.X_OK), f"{name} is not executable"
