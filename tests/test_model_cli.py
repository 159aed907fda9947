"""The network commands of `ctrnet`, run as a sequence of `main([...])` calls sharing one
injected world and one state directory, as separate invocations would."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ctrnet.backend import Backend
from ctrnet.cli import main
from ctrnet.cli_network import injected

pytestmark = pytest.mark.requires("iptables", "ebtables")

#: Runs `ctrnet ARGV…` in-process on the test's world; (exit status, stdout, stderr).
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    state = str(tmp_path / "state")

    def run(*argv: str) -> tuple[int, str, str]:
        with injected(backend):
            code = main([*argv, "--state-dir", state, "--backend", backend.name])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_create_connect_list_and_remove_across_invocations(run: Run, backend: Backend) -> None:
    assert run("network", "create", "web", "--subnet", "10.70.0.0/24")[0] == 0
    code, out, _ = run("connect", "web", "c1", "--create-netns", "-p", "8080:80")
    assert code == 0 and out.strip() == "c1 10.70.0.2/24"
    assert "c1" in backend.netns_list()
    code, out, _ = run("network", "ls")
    assert out.splitlines()[0].split() == ["NAME", "BRIDGE", "SUBNET", "GATEWAY", "MTU",
                                           "MASQ", "ICC", "ENDPOINTS"]
    assert out.splitlines()[1].split() == ["web", "br-web", "10.70.0.0/24", "10.70.0.1",
                                           "1500", "on", "on", "1"]
    code, out, _ = run("ps", "--json")
    [endpoint] = json.loads(out)
    assert endpoint["ip"] == "10.70.0.2" and endpoint["ports"] == ["8080:80/tcp"]
    code, out, _ = run("network", "inspect", "web", "--json")
    assert json.loads(out)["endpoints"][0]["container"] == "c1"
    assert run("disconnect", "web", "c1", "--delete-netns")[0] == 0
    assert run("network", "rm", "web")[0] == 0
    assert run("network", "ls", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(("argv", "message"), [
    (("network", "create", "x", "--subnet", "10.0.0.0/33"), "ctrnet: subnet: "),
    (("network", "create", "x", "--subnet", "10.0.0.0/24", "--bridge", "b" * 16),
     "ctrnet network create: error: argument --bridge: bridge name "),
    (("connect", "nope", "c1"), "ctrnet: network: "),
    (("connect", "web", "ghost"), "ctrnet: container: "),
    (("connect", "web", "c1", "--create-netns", "-p", "99999:80"), "ctrnet: ports."),
    (("network", "inspect", "ghost"), "ctrnet: network 'ghost' does not exist"),
])
def test_a_mistake_is_one_line_on_stderr_and_a_nonzero_exit(
        run: Run, argv: tuple[str, ...], message: str) -> None:
    run("network", "create", "web", "--subnet", "10.70.0.0/24")
    code, out, err = run(*argv)
    assert code != 0 and out == ""
    assert err.startswith(message) and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_a_failed_connect_removes_the_namespace_it_created(run: Run, backend: Backend) -> None:
    run("network", "create", "web", "--subnet", "10.70.0.0/30")  # one address
    assert run("connect", "web", "c1", "--create-netns")[0] == 0
    code, _, err = run("connect", "web", "c2", "--create-netns")
    assert code == 1 and "no free address" in err
    assert "c2" not in backend.netns_list()


def test_rm_and_disconnect_of_what_is_not_there_succeed_with_a_note(run: Run) -> None:
    code, _, err = run("network", "rm", "ghost")
    assert code == 0 and "nothing to remove" in err
    code, _, err = run("disconnect", "ghost", "c1")
    assert code == 0 and "nothing to do" in err


def test_progress_names_each_step_on_stderr(run: Run) -> None:
    _, _, err = run("network", "create", "web", "--subnet", "10.70.0.0/24", "--progress")
    assert "create: create-bridge" in err and "create: iptables" in err


def test_gc_reports_what_it_removed(run: Run, backend: Backend) -> None:
    run("network", "create", "web", "--subnet", "10.70.0.0/24")
    run("connect", "web", "c1", "--create-netns")
    backend.netns_delete("c1")
    code, out, _ = run("gc")
    assert code == 0 and out.strip() == "removed c1 from web"
    assert run("ps", "--json")[1].strip() == "[]"


def test_state_dir_comes_from_the_environment_else_per_backend_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ctrnet.state import default_state_dir

    monkeypatch.delenv("CTRNET_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "/tmp/xdg")
    assert default_state_dir("kernel") == "/var/lib/ctrnet"
    assert default_state_dir("sim") == "/tmp/xdg/ctrnet-sim"
    monkeypatch.setenv("CTRNET_STATE_DIR", "/tmp/elsewhere")
    assert default_state_dir("kernel") == default_state_dir("sim") == "/tmp/elsewhere"
