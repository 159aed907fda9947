"""The simulated command line answers like the real tools: tests/data/cmdline/session.txt is
run through ctrnet.cmdline on the chosen backend (`--backend sim|kernel`), and every recorded
step must print what iproute2 6.1 / iputils / procps printed for it (NAME.txt, recorded by
capture.sh in real namespaces), with the same stderr and exit status.

Normalisations, each because the Backend does not model it: ping round-trip times; the
devices' own "self" FDB entries and the kernel's FDB dump order; the tail of `-d` lines.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.cmdline import Context, dispatch
from ctrnet.registry import open_backend

DATA = Path(__file__).parent / "data" / "cmdline"


@dataclass(frozen=True)
class Step:
    name: str | None
    prefix_only: bool
    ns: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    stdout: str
    stderr: str
    status: int


def load_session() -> list[Step]:
    steps = []
    for line in (DATA / "session.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        words = shlex.split(line)
        name: str | None = None
        prefix_only = False
        if words[0].startswith("@"):
            name = words.pop(0)[1:]
            if name.startswith("prefix:"):
                name, prefix_only = name.removeprefix("prefix:"), True
        steps.append(Step(name, prefix_only, words[0], tuple(words[1:])))
    return steps


def load_golden(name: str) -> Outcome:
    text = (DATA / f"{name}.txt").read_text()
    body = text.split("\n", 1)[1]
    stdout, rest = body.split("@@ stderr @@\n", 1)
    stderr, status = rest.rsplit("@@ exit ", 1)
    return Outcome(stdout, stderr, int(status.split()[0]))


SESSION = load_session()

#: Recorded steps a backend is known to answer differently, with why. Strict: when a fix makes
#: one pass, the run fails until its entry goes, so a divergence cannot hide a regression.
KNOWN_DIVERGENCES: dict[str, tuple[frozenset[str], str]] = {
    "link_multi_show": (
        frozenset({"sim", "kernel"}),
        "a link that was up keeps qdisc noqueue when set down; the Backend does not say "
        "whether a down link was ever up, so the command layer prints noop",
    ),
}
RECORDED = [step for step in SESSION if step.name]


def run_step(backend: Backend, step: Step) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(backend, stdout=out, stderr=err)
    if step.ns != "host":
        ctx = ctx.in_namespace(step.ns)
    status = dispatch(step.argv[0], list(step.argv[1:]), ctx)
    return Outcome(out.getvalue(), err.getvalue(), status)


@pytest.fixture(scope="module")
def outcomes(backend_name: str) -> Iterator[dict[str, Outcome]]:
    """The whole session, once, on a fresh world: steps build on each other."""
    world = open_backend(backend_name)
    try:
        results: dict[str, Outcome] = {}
        for step in SESSION:
            outcome = run_step(world, step)
            if step.name:
                results[step.name] = outcome
            else:
                assert outcome.status == 0, f"setup step {step} failed: {outcome.stderr}"
        yield results
    finally:
        world.close()


_PING_TIMES = [
    (re.compile(r"time=[0-9.]+ ms"), "time=T ms"),
    (re.compile(r"time [0-9]+ms"), "time Nms"),
    (re.compile(r"rtt min/avg/max/mdev = \S+ ms"), "rtt min/avg/max/mdev = T ms"),
]


def normalise(name: str, text: str) -> str:
    if name.startswith("ping"):
        for pattern, replacement in _PING_TIMES:
            text = pattern.sub(replacement, text)
    if name.startswith("fdb") and text.startswith("["):
        entries = [e for e in json.loads(text) if "self" not in e["flags"]]
        return json.dumps(sorted(entries, key=lambda e: e["mac"]))
    if name.startswith("fdb"):
        return "".join(sorted(line + "\n" for line in text.splitlines() if " self " not in
                              line and not line.endswith(" self permanent")))
    return text


def _is_subset(ours: object, real: object) -> bool:
    if isinstance(ours, dict) and isinstance(real, dict):
        return all(key in real and _is_subset(value, real[key]) for key, value in ours.items())
    if isinstance(ours, list) and isinstance(real, list):
        return len(ours) == len(real) and all(map(_is_subset, ours, real))
    return ours == real


@pytest.mark.parametrize("step", RECORDED, ids=[step.name or "" for step in RECORDED])
def test_command_prints_what_the_real_tool_prints(
    step: Step, outcomes: dict[str, Outcome], backend_name: str, request: pytest.FixtureRequest
) -> None:
    assert step.name is not None
    backends, reason = KNOWN_DIVERGENCES.get(step.name, (frozenset(), ""))
    if backend_name in backends:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    real = load_golden(step.name)
    ours = outcomes[step.name]
    assert (ours.status, ours.stderr) == (real.status, real.stderr)
    if step.prefix_only:
        ours_lines, real_lines = ours.stdout.splitlines(), real.stdout.splitlines()
        assert len(ours_lines) == len(real_lines)
        for mine, theirs in zip(ours_lines, real_lines, strict=True):
            assert theirs.startswith(mine), f"{mine!r} is not a prefix of {theirs!r}"
    else:
        assert normalise(step.name, ours.stdout) == normalise(step.name, real.stdout)


def test_details_json_is_a_subset_of_the_real_one(backend: Backend) -> None:
    """-d -j prints fewer keys than iproute2, never different values: checked on a bridge."""
    err = io.StringIO()
    ctx = Context(backend, stderr=err)
    for line in ("ip link add br1 type bridge stp_state 1 forward_delay 400 ageing_time 1000",
                 "ip link set br1 address 02:00:00:00:0b:01"):
        argv = line.split()
        assert dispatch(argv[0], argv[1:], ctx) == 0, err.getvalue()
    out = io.StringIO()
    ctx = Context(backend, stdout=out)
    assert dispatch("ip", ["-d", "-j", "link", "show", "br1"], ctx) == 0
    ours = json.loads(out.getvalue())
    real = json.loads((DATA / "br1_d_json.json").read_text())
    real[0]["ifindex"] = ours[0]["ifindex"]  # the world here has no veths before br1
    assert _is_subset(ours, real)
