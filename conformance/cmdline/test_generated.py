"""Generated differential tests: scripts nobody wrote by hand, each run on the simulator and on
the kernel (`ctrnet.compare.oracle`), every tool invocation compared. A divergence not in the
sickbay (sickbay.py) fails, shrunk by hypothesis to a minimal script.

    pytest --pyargs ctrnet.conformance --backend kernel -k generated      # the fixed budget
    CTRNET_FUZZ_SECONDS=600 pytest ... -k generated                       # the long mode
    CTRNET_FUZZ_SURVEY=1 CTRNET_FUZZ_REPORT=out.json pytest ... -k generated
        # count every divergence instead of stopping at the first (docs/fidelity.md)
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, seed, settings

from ctrnet.backend import ORACLE
from ctrnet.compare import oracle
from ctrnet.conformance.cmdline import generate
from ctrnet.registry import entry

SURVEY_ENV = "CTRNET_FUZZ_SURVEY"


def _explain(verdict: generate.Verdict) -> str:
    return ("the simulator and the kernel diverge at: " + verdict.first_line
            + "\n--- script ---\n" + verdict.case.script() + "--- differences ---\n"
            + "\n".join(verdict.diff)
            + "\n(accept it only with a sickbay entry: conformance/cmdline/sickbay.py)")


def test_generated_scripts_print_what_the_kernel_prints(backend_name: str) -> None:
    if ORACLE not in entry(backend_name).capabilities:
        pytest.skip(f"compares the simulator with the kernel: run with a backend that has "
                    f"capability {ORACLE!r} (--backend kernel)")
    reason = oracle.kernel_unavailable()
    if reason:
        pytest.skip(reason)
    per_run, seconds = generate.budget()
    survey = os.environ.get(SURVEY_ENV) == "1"
    tally = generate.Tally()
    seen: set[str] = set()

    def check(case: generate.Case) -> None:
        verdict = generate.judge(case)
        if case.script() not in seen:  # hypothesis re-runs a case while it shrinks
            seen.add(case.script())
            tally.add(verdict)
        if not survey and not verdict.identical and verdict.entry is None:
            raise AssertionError(_explain(verdict))

    common = settings(deadline=None, database=None, print_blob=False,
                      suppress_health_check=list(HealthCheck))
    try:
        if seconds is None:
            # The fixed budget: the same cases every run (derandomized), a few minutes at most.
            run = settings(common, max_examples=per_run, derandomize=True)(
                given(generate.cases())(check))
            run()
        else:
            deadline = time.monotonic() + seconds
            round_number = 0
            while time.monotonic() < deadline:
                round_number += 1
                run = seed(round_number)(settings(common, max_examples=per_run)(
                    given(generate.cases())(check)))
                run()
    finally:
        report = os.environ.get(generate.REPORT_ENV)
        if report:
            tally.write(report)
    assert tally.total > 0
