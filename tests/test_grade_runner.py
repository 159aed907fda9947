"""The runner: each test's outcome is filed under the checklist item (or extra topic) its
marker names, with a one-line reason; a suite whose worlds cannot even be built is "could not
run", not a failing implementation."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrnet.grade.model import Outcome
from ctrnet.grade.runner import Request, grade

FAKE_SUITE = '''
import pytest

@pytest.mark.checklist("veth")
def test_veth_ok():
    pass

@pytest.mark.checklist("ipam")
def test_ipam_distinct():
    assert False, "container c2 got 172.20.0.2, already held by c1"

@pytest.mark.checklist("ipam")
def test_ipam_skipped():
    pytest.skip("needs ebtables")

@pytest.mark.topic("isolation")
def test_isolation():
    pass
'''

BROKEN_WORLD = '''
import pytest

@pytest.fixture
def world():
    raise RuntimeError("cannot create namespace host")

@pytest.mark.checklist("veth")
def test_needs_a_world(world):
    pass
'''


@pytest.fixture
def suite(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"fakesuite_{request.node.originalname.removeprefix('test_')}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "test_fake.py").write_text(textwrap.dedent(request.param))
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m.startswith(name)]:
            del sys.modules[module]


@pytest.mark.parametrize("suite", [FAKE_SUITE], indirect=True)
def test_outcomes_are_filed_under_their_items_with_one_line_reasons(suite: str) -> None:
    result = grade(Request(impl="ctrnet", backend="sim", suites=(suite,)))
    assert result.error is None
    items = {r.item.id: r for r in result.items}
    assert items["veth"].passed
    assert not items["ipam"].passed
    failing = items["ipam"].failures
    assert [(t.name, t.outcome, t.message) for t in failing] == [
        ("test_ipam_distinct", Outcome.FAILED, "container c2 got 172.20.0.2, already held by c1")]
    skipped = [t for t in items["ipam"].tests if t.outcome is Outcome.SKIPPED]
    assert [t.message for t in skipped] == ["needs ebtables"]
    assert items["bridge"].no_evidence and not items["bridge"].passed
    assert [t.name for t in result.extras["isolation"]] == ["test_isolation"]
    assert (result.score, result.exit_status) == (1, 1)


@pytest.mark.parametrize("suite", [BROKEN_WORLD], indirect=True)
def test_a_world_that_cannot_be_built_means_grading_could_not_run(suite: str) -> None:
    result = grade(Request(impl="ctrnet", backend="sim", suites=(suite,)))
    assert result.exit_status == 2
    assert result.error == ("no test could set up its world: "
                            "cannot create namespace host")
