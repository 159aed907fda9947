"""Fixtures of the CNI plugin checks: the plugin under test (from `--impl`), the graded world
(host, wan, containers) and the networks the plugin is asked to build in it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.grade.cni import DEFAULT_TIMEOUT, NetworkConfig, Plugin
from ctrnet.grade.launch import RecordingLauncher, launcher_for
from ctrnet.grade.remote import BackendServer
from ctrnet.grade.runner import conf_extra

from .network import MAIN, SMALL, CniNetwork, build_wan

#: Where CNI plugins live on Debian (containernetworking-plugins) and by CNI's convention;
#: the reference `bridge` plugin finds its `host-local` IPAM there.
SYSTEM_CNI_PATH = tuple(p for p in ("/usr/lib/cni", "/opt/cni/bin") if os.path.isdir(p))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "checklist(item): the checklist item a test evidences")
    config.addinivalue_line("markers", "topic(name): an extra topic beyond the six items")
    # A check that cannot be judged raises network.Blocked (an AssertionError): its message
    # "blocked by ITEM: reason" is what the grade reads, so pytest must not rewrite it.


def ctrnet_cni_path(scratch: Path) -> str:
    """ctrnet's own model as a CNI plugin: the `ctrnet-cni` console script when installed,
    else an equivalent script written into `scratch`."""
    beside = Path(sys.executable).with_name("ctrnet-cni")
    if beside.exists():
        return str(beside)
    found = shutil.which("ctrnet-cni")
    if found:
        return found
    script = scratch / "ctrnet-cni"
    script.write_text(f"#!{sys.executable}\nimport sys\n"
                      "from ctrnet.grade.cni_plugin import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture(scope="session")
def cni_plugin_path(impl_spec: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if impl_spec == "ctrnet":
        return ctrnet_cni_path(tmp_path_factory.mktemp("ctrnet-cni"))
    if not impl_spec.startswith("cni:"):
        pytest.fail(f"--impl {impl_spec!r}: expected ctrnet or cni:PATH")
    path = os.path.abspath(impl_spec.removeprefix("cni:"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"CNI plugin {path} is not an executable file")
    return path


@pytest.fixture
def launcher(backend: Backend, tmp_path: Path) -> Iterator[RecordingLauncher]:
    running = launcher_for(backend, tmp_path / "run")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def plugin_env(backend: Backend, impl_spec: str,
               launcher: RecordingLauncher) -> Iterator[dict[str, str]]:
    """What the plugin needs beyond the CNI environment: for ctrnet's own plugin, the world
    it acts on, served from this process (its socket's directory granted to the sandbox the
    plugin runs in, whose unprivileged id could not reach it otherwise)."""
    if impl_spec != "ctrnet":
        yield {}
        return
    server = BackendServer(backend)
    sandbox = getattr(launcher, "sandbox", None)
    if sandbox is not None:
        sandbox.grant(os.path.dirname(server.socket_path))
    try:
        yield server.env()
    finally:
        server.close()


@pytest.fixture
def make_network(
    backend: Backend, launcher: RecordingLauncher, cni_plugin_path: str, tmp_path: Path,
    plugin_env: dict[str, str],
) -> Iterator[Callable[[dict[str, str]], CniNetwork]]:
    """Networks of the plugin under test, in a world with a wan; DEL for all at the end."""
    build_wan(backend)
    made: list[CniNetwork] = []
    timeout = float(os.environ.get("CTRNET_CNI_TIMEOUT", DEFAULT_TIMEOUT))

    def make(spec: dict[str, str]) -> CniNetwork:
        config = NetworkConfig(
            name=spec["name"], plugin_type=os.path.basename(cni_plugin_path),
            bridge=spec["bridge"], subnet=spec["subnet"], gateway=spec["gateway"],
            data_dir=str(tmp_path / "ipam"),
            extra={**conf_extra(), **({"mtu": int(spec["mtu"])} if "mtu" in spec else {})},
        )
        plugin = Plugin(cni_plugin_path, config, launcher, SYSTEM_CNI_PATH, timeout,
                        env=plugin_env)
        network = CniNetwork(backend, plugin, launcher)
        made.append(network)
        return network

    yield make
    for network in made:
        network.teardown()


@pytest.fixture
def network(make_network: Callable[[dict[str, str]], CniNetwork]) -> CniNetwork:
    """The main network: 172.20.0.0/24, gateway .1, masquerading."""
    return make_network(MAIN)


@pytest.fixture
def small_network(make_network: Callable[[dict[str, str]], CniNetwork]) -> CniNetwork:
    """A /29 network: five addresses to hand out."""
    return make_network(SMALL)
