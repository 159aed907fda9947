"""Each script of data/ prints, line for line, what it printed on the kernel: every command's
output, messages and exit status (see harness.normalize for what is mapped to stable names).

With `--backend sim` the script runs under `ctrnet sim exec` (no privileges); with
`--backend kernel` it runs in a throw-away `unshare --net --mount` sandbox, which checks that
the captured expectations still hold on this kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrnet.conformance.cmdline import harness

SCRIPTS = harness.scripts()


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_prints_what_the_kernel_printed(path: Path, backend_name: str) -> None:
    script = path.read_text(encoding="utf-8")
    if backend_name == "kernel":
        reason = harness.kernel_unavailable()
        if reason:
            pytest.skip(reason)
        produced = harness.run_kernel(script)
    else:
        produced = harness.run_sim(script)
    assert harness.normalize(produced, script) == harness.expected(path)
