"""The state directory is input, and may be hostile or broken: a planted pickle, a symlink
where the lock should be, a directory others can write, a file of the wrong shape. Every
command then refuses in one line naming the file and what to do, runs nothing from the
file, follows no link, and leaves every byte of the state as it was."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from state_helpers import CLI, cli, destroy, kernel_unavailable

from ctrnet.cli import main

SETUP = (("network", "create", "web", "--subnet", "10.97.0.0/24", "--bridge", "br-sec"),
         ("connect", "web", "c1", "--create-netns", "-p", "8080:80"))
#: Every command that reads the state (rm last: it would change it if it went through).
COMMANDS = (("ps",), ("network", "ls"), ("network", "inspect", "web"), ("gc",),
            ("connect", "web", "c2", "--create-netns"), ("disconnect", "web", "c1"),
            ("network", "rm", "web", "--force"))


class _Planted:
    """Unpickling this runs a command: what a planted world.pickle would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, ...]]:
        return (os.system, (f"touch {self.marker}",))


def _bytes(root: Path) -> dict[str, bytes | str]:
    """Every file (by content) and symlink (by target) under `root`."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirs, names in os.walk(root):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            found[rel] = (f"-> {os.readlink(path)}" if os.path.islink(path)
                          else Path(path).read_bytes())
    return found


def _run(state: Path, *argv: str) -> tuple[int, str]:
    """`ctrnet ARGV…` on the simulator in this process (the code a new process runs)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([*argv, "--backend", "sim", "--state-dir", str(state)])
    return code, err.getvalue()


def _refused_everywhere(state: Path, culprit: str, *, readers_may_pass: bool = False) -> None:
    """Every command fails with one line naming `culprit`, and changes nothing. With
    `readers_may_pass`, a listing that does not read the culprit (ps, ls, inspect) may
    succeed, as long as it changes nothing either."""
    before = _bytes(state)
    for argv in COMMANDS:
        code, err = _run(state, *argv)
        assert code != 0 or argv[0] == "connect" or _bytes(state) == before, \
            f"{argv} changed the state"
        if code != 0:
            assert _bytes(state) == before, f"{argv} failed and changed the state"
        if code == 0 and readers_may_pass and argv[-1] in ("ps", "ls", "web"):
            continue
        if code == 0 and readers_may_pass and argv[0] == "connect" and "endpoints/" in culprit:
            # Connecting c2 reads no other endpoint's record (so that a connect does not cost
            # more with every container): it may go through, and changes only c2's files.
            before = _bytes(state)
            continue
        assert code == 1, (argv, code, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert culprit in err, (argv, err)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    for argv in SETUP:
        done = cli("sim", state, *argv)
        assert done.returncode == 0, done.stderr
    return state


def test_a_planted_pickle_is_refused_and_never_loaded(state: Path, tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    (state / "world" / "world.json").unlink()
    (state / "world" / "world.pickle").write_bytes(pickle.dumps(_Planted(marker)))
    _refused_everywhere(state, "world.pickle")
    assert not marker.exists(), "the planted pickle ran code"


@pytest.mark.parametrize("target", ["os:system", "subprocess:Popen", "builtins:eval",
                                    "ctrnet.backends.sim.persist:_Decoder"])
def test_a_world_naming_a_class_outside_the_simulator_is_refused(
        state: Path, target: str) -> None:
    world = state / "world" / "world.json"
    document = json.loads(world.read_text())
    document["objects"][0]["class"] = target
    world.write_text(json.dumps(document))
    _refused_everywhere(state, str(world))


def test_a_world_of_another_format_version_says_how_to_get_out(state: Path) -> None:
    world = state / "world" / "world.json"
    document = json.loads(world.read_text())
    document["version"] = 2
    world.write_text(json.dumps(document))
    _refused_everywhere(state, "format version 2")


@pytest.mark.parametrize("lock", ["lock", "world/lock"])
def test_a_symlinked_lock_is_refused_and_its_target_untouched(
        state: Path, tmp_path: Path, lock: str) -> None:
    victim = tmp_path / "precious"
    victim.write_text("do not truncate me\n")
    (state / lock).unlink()
    (state / lock).symlink_to(victim)
    _refused_everywhere(state, f"{state / lock} is a symlink")
    assert victim.read_text() == "do not truncate me\n"


def test_a_state_dir_others_can_write_is_refused(state: Path) -> None:
    state.chmod(0o777)
    _refused_everywhere(state, "chmod go-w")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory to another user")
def test_a_state_dir_of_another_user_is_refused(state: Path) -> None:
    os.chown(state, 65534, 65534)
    _refused_everywhere(state, "belongs to uid 65534")


def test_a_state_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("not a directory\n")
    for argv in COMMANDS:
        code, err = _run(state, *argv)
        assert code == 1 and err.count("\n") == 1, err
        assert "not a directory" in err.lower(), err
    assert state.read_text() == "not a directory\n"


CORRUPTIONS = {
    "network JSON of the wrong shape": ("networks/web.json", "[]\n"),
    "network missing its fields": ("networks/web.json", '{"name": "web"}\n'),
    "network field of the wrong type": ("networks/web.json", '{"name": 1, "subnet": []}\n'),
    "truncated network": ("networks/web.json", '{"name": "we'),
    "endpoint of the wrong shape": ("endpoints/web/c1.json", '"c1"\n'),
    "port claim without an owner": ("ports/tcp-8080-any", "\n"),
    "port claim naming a path": ("ports/tcp-8080-any", "../../etc/passwd\n"),
    "reservation without an owner": ("ipam/web/10.97.0.2", "\n"),
}


@pytest.mark.parametrize("what", sorted(CORRUPTIONS))
def test_a_corrupt_state_file_is_an_error_naming_it_never_an_empty_world(
        state: Path, what: str) -> None:
    rel, text = CORRUPTIONS[what]
    (state / rel).write_text(text)
    _refused_everywhere(state, rel if rel.startswith("endpoints/") else rel.split("/")[-1],
                        readers_may_pass=True)


def test_a_folder_replaced_by_a_file_is_an_error_not_an_empty_list(state: Path) -> None:
    shutil.rmtree(state / "endpoints")
    (state / "endpoints").write_text("")
    _refused_everywhere(state, "endpoints should be a directory")


def test_a_journal_entry_of_an_unknown_version_is_refused(state: Path) -> None:
    (state / "journal").mkdir(exist_ok=True)
    (state / "journal" / "connect-1-1-1.json").write_text(
        '{"version": 7, "id": "connect-1-1-1", "op": "connect", "args": {}}\n')
    _refused_everywhere(state, "format version 7")


@pytest.mark.skipif(kernel_unavailable() is not None, reason=str(kernel_unavailable()))
@pytest.mark.parametrize("damage", ["", "w12\n", "garbage that is not an id\n"])
def test_a_damaged_kernel_world_identity_is_an_error_not_a_new_world(
        tmp_path: Path, damage: str) -> None:
    state = tmp_path / "state"
    ident = state / "world" / "kernel-world"
    good = ""
    try:
        assert cli("kernel", state, "network", "create", "web", "--subnet", "10.96.0.0/24",
                   "--bridge", "br-wid").returncode == 0
        good = ident.read_text()
        ident.write_text(damage)
        done = cli("kernel", state, "network", "ls")
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert str(ident) in done.stderr and good.strip() in done.stderr, done.stderr
        assert ident.read_text() == damage, "a new world was started over the old one"
        ident.write_text(good)
        assert cli("kernel", state, "network", "rm", "web").returncode == 0
    finally:
        if good:
            ident.write_text(good)
        destroy("kernel", state)


def test_a_killed_writer_leaves_no_temporary_file_after_the_next_command(state: Path) -> None:
    """(A kill between write and rename is what the crash suite does at every step; here
    the leftovers of such writers, planted, go with the next command. The planted files are
    the same on both backends: the command runs on the simulator.)"""
    dead = 2 ** 22 + 1  # above the usual pid_max: no live process has it
    planted = [state / "endpoints" / "web" / f".c1.json.{dead}.1.tmp",
               state / "networks" / f".web.json.{dead}.7.tmp",
               state / "world" / ".world.json.tmp"]
    for path in planted:
        path.write_text("half")
    (state / "journal").mkdir(exist_ok=True)
    (state / "journal" / f".gc-{dead}-1-1.json.{dead}.1.tmp").write_text("half")
    # A dead operation's entry makes the next command recover (and sweep).
    (state / "journal" / f"gc-{dead}-1-1.json").write_text(json.dumps(
        {"version": 1, "id": f"gc-{dead}-1-1", "op": "gc", "args": {}, "pid": dead}))
    assert _run(state, "ps")[0] == 0
    left = [p for p in state.rglob(".*") if p.is_file()]
    assert left == [], left
    assert not any((state / "journal").iterdir())


# -- sim exec as root --------------------------------------------------------------------------
_ESCAPES = r"""
here=$(readlink /proc/self/ns/net)
there=$(/usr/bin/nsenter --net=/proc/$PPID/ns/net readlink /proc/self/ns/net 2>/dev/null)
echo "nsenter:${there:-refused}"
umount /proc/sys 2>/dev/null; umount -l /proc/sys 2>/dev/null
mount -o remount,rw /proc/sys 2>/dev/null; mount -o remount,rw /sys 2>/dev/null
umount /sys 2>/dev/null; umount -l /sys 2>/dev/null
[ -w /proc/sys/kernel/hostname ] && echo "proc-sys:writable" || echo "proc-sys:read-only"
[ -w /sys/kernel ] && echo "sys:writable" || echo "sys:read-only"
[ -w /sys/power/state ] && echo "sys-file:writable" || echo "sys-file:read-only"
/usr/bin/nsenter --net=/proc/1/ns/net /bin/true 2>/dev/null && echo "pid1:entered" \
  || echo "pid1:refused"
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the escapes are those of root")
@pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("nsenter") is None,
                    reason="util-linux unshare/nsenter are not installed")
def test_sim_exec_as_root_cannot_reach_or_change_the_host(tmp_path: Path) -> None:
    script = tmp_path / "escape.sh"
    script.write_text(_ESCAPES)
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    host_netns = os.readlink("/proc/self/ns/net")
    done = subprocess.run([sys.executable, "-c", CLI, "sim", "exec", "sh", str(script)],
                          capture_output=True, text=True, timeout=60)
    seen = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    assert seen.get("nsenter") != host_netns and seen.get("pid1") == "refused", done.stdout
    assert seen.get("proc-sys") == "read-only", done.stdout
    assert seen.get("sys") == "read-only" and seen.get("sys-file") == "read-only", done.stdout
    assert subprocess.run(["ip", "-o", "link"], capture_output=True,
                          text=True).stdout == host_links
