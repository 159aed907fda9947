"""Each script of data/ prints, line for line, what it printed on the kernel: every command's
output, messages and exit status (see ctrnet.compare.normalize for what is mapped to stable
names).

With `--backend sim` (capability "simulated-command-line") the script runs under `ctrnet sim
exec` (no privileges); with `--backend kernel` (capability "oracle": the kernel itself) it
runs in a throw-away `unshare --net --mount` sandbox, which checks that the captured
expectations still hold on this kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrnet.backend import ORACLE, SIMULATED_COMMAND_LINE
from ctrnet.compare.normalize import normalize
from ctrnet.conformance.cmdline import harness
from ctrnet.registry import entry

SCRIPTS = harness.scripts()


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_prints_what_the_kernel_printed(path: Path, backend_name: str) -> None:
    script = path.read_text(encoding="utf-8")
    capabilities = entry(backend_name).capabilities
    if ORACLE in capabilities:  # the expectations themselves, still true on this kernel?
        reason = harness.kernel_unavailable()
        if reason:
            pytest.skip(reason)
        produced = harness.run_kernel(script)
    elif SIMULATED_COMMAND_LINE in capabilities:
        produced = harness.run_sim(script)
    else:
        pytest.skip(f"backend {backend_name!r} has neither capability {ORACLE!r} nor "
                    f"{SIMULATED_COMMAND_LINE!r}")
    assert normalize(produced, script) == harness.expected(path)
