"""What a learner meets before troubleshooting anything: one state-directory rule for every
command (per user without root), the README's `ctrnet conformance -- -k fdb`, and the VM
provisioning that loads br_netfilter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrnet.state import default_state_dir

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (["doctor"], ["topology"], ["topology", "--json"], ["trace", "--from", "host",
            "--to", "127.0.0.1"], ["capture", "host", "lo", "--duration", "0.1"],
            ["ps"], ["network", "ls"])


def test_without_root_every_backend_keeps_its_state_per_user(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTRNET_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "/tmp/xdg")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert default_state_dir("kernel") == "/tmp/xdg/ctrnet-kernel"
    assert default_state_dir("sim") == "/tmp/xdg/ctrnet-sim"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_state_dir("kernel") == "/var/lib/ctrnet"
    assert default_state_dir("sim") == "/tmp/xdg/ctrnet-sim"


def _as_learner(home: Path) -> list[str]:
    """Run as an unprivileged user: `nobody` when we are root, ourselves otherwise."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop root")
    home.chmod(0o777)
    drop = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*drop, sys.executable, "-c", "import ctrnet.cli"], cwd=home,
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this interpreter or import ctrnet from it "
                    f"(a venv under a private directory?): {probe.stderr.strip()[-200:]}")
    return drop


@pytest.fixture
def learner_home() -> Iterator[Path]:
    """A home directory the unprivileged user can reach (pytest's tmp_path is root's)."""
    home = Path(tempfile.mkdtemp(prefix="ctrnet-learner-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_troubleshooting_command_runs_without_root(learner_home: Path,
                                                         argv: list[str]) -> None:
    home = learner_home
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "LANG": "C.UTF-8"}
    done = subprocess.run([*_as_learner(home), sys.executable, "-m", "ctrnet.cli", *argv],
                          env=env, cwd=home, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert "/var/lib/ctrnet" not in done.stderr
    assert done.returncode in (0, 1), done.stderr
    assert (home / ".local" / "state" / "ctrnet-sim" / "world").is_dir()


def test_an_unusable_state_directory_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    env = {**os.environ, "CTRNET_STATE_DIR": str(blocker / "state")}
    done = subprocess.run([sys.executable, "-m", "ctrnet.cli", "doctor"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and str(blocker) in done.stderr


def test_conformance_passes_what_follows_the_separator_to_pytest(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ctrnet.cli", "conformance", "--backend", "sim",
                           "--", "-k", "fdb", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " deselected" in done.stdout


def test_the_vm_loads_br_netfilter_now_and_at_every_boot(tmp_path: Path) -> None:
    vagrantfile = (ROOT / "Vagrantfile").read_text()
    assert 'provision "shell", path: "ci/vm-modules.sh"' in vagrantfile
    if os.geteuid() != 0:
        pytest.skip("the provisioning script runs as root")
    fake = tmp_path / "bin"
    fake.mkdir()
    calls = tmp_path / "modprobe.calls"
    (fake / "modprobe").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (fake / "modprobe").chmod(0o755)
    conf = tmp_path / "modules-load.d"
    env = {"PATH": f"{fake}:/usr/bin:/bin", "CTRNET_MODULES_LOAD_DIR": str(conf)}
    done = subprocess.run(["sh", str(ROOT / "ci" / "vm-modules.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().split() == ["br_netfilter"]
    assert (conf / "ctrnet.conf").read_text().split() == ["br_netfilter"]


def test_the_vm_provisioning_fails_loudly_when_a_module_cannot_load(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the provisioning script runs as root")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "modprobe").write_text("#!/bin/sh\necho \"modprobe: FATAL: $1 not found\" >&2\n"
                                   "exit 1\n")
    (fake / "modprobe").chmod(0o755)
    conf = tmp_path / "modules-load.d"
    env = {"PATH": f"{fake}:/usr/bin:/bin", "CTRNET_MODULES_LOAD_DIR": str(conf)}
    done = subprocess.run(["sh", str(ROOT / "ci" / "vm-modules.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "br_netfilter" in done.stderr
    assert not (conf / "ctrnet.conf").exists()
