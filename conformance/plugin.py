"""pytest plugin of the conformance suite: the `--backend` option, the `backend` fixture (a
fresh world per test, removed afterwards) and the `requires(capability)` marker, which skips a
test with its reason when the backend lacks the capability.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ctrnet.backend import Backend
from ctrnet.registry import REGISTRY, entry, open_backend

from .hostcheck import root_namespace_unchanged  # noqa: F401  (autouse)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ctrnet")
    group.addoption(
        "--backend",
        action="store",
        default=os.environ.get("CTRNET_BACKEND", "sim"),
        choices=sorted(REGISTRY),
        help="backend the conformance suite runs against (default: sim, or $CTRNET_BACKEND)",
    )
    group.addoption(
        "--impl",
        action="store",
        default=os.environ.get("CTRNET_IMPL", "ctrnet"),
        help="implementation under test: ctrnet (the reference) or cni:PATH (a CNI plugin)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(capability, ...): skip unless the backend has these capabilities"
    )
    config.addinivalue_line("markers", "slow: takes seconds of wall time on the kernel")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """A backend that needs root (--backend kernel) without root: re-run pytest inside a
    rootless sandbox (user + network + mount namespaces of its own) when the backend has one
    and this host allows it; `backend_name` says why not."""
    sandbox = entry(config.getoption("--backend")).rootless
    if sandbox is None or os.geteuid() == 0:
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # the re-run's output must reach the terminal, not a capture file
        capture.stop_global_capturing()
    sandbox.enter()
    if capture is not None:
        capture.start_global_capturing()


def pytest_report_header(config: pytest.Config) -> str:
    return f"ctrnet backend: {config.getoption('--backend')}"


@pytest.fixture(scope="session")
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.config.getoption("--backend")
    chosen = entry(name)
    reason = chosen.unavailable()
    if reason is not None and chosen.rootless is not None and os.geteuid() != 0:
        pytest.exit(f"the {name} backend needs root: {chosen.rootless.mode()[1]}", returncode=2)
    if reason is not None:
        hint = " (run as root, or in the Vagrant VM)" if reason.endswith("root") else ""
        pytest.exit(reason + hint, returncode=2)
    return name


@pytest.fixture(scope="session")
def impl_spec(request: pytest.FixtureRequest) -> str:
    """The implementation under test, as `--impl` names it ("ctrnet" or "cni:PATH")."""
    spec: str = request.config.getoption("--impl")
    return spec


@pytest.fixture
def backend(backend_name: str, request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A fresh world on the chosen backend; its namespaces are gone when the test ends."""
    world = open_backend(backend_name)
    try:
        for marker in request.node.iter_markers("requires"):
            for capability in marker.args:
                reason = world.missing(capability)
                if reason:
                    pytest.skip(reason)
        yield world
    finally:
        world.close()
