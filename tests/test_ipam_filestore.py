"""FileStore on disk: the host-local layout, reopening, leftovers of killed writers, several
processes sharing one directory, and processes killed with SIGKILL in mid-allocation."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import random
import shutil
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from netaddr import IPAddress

from ctrnet.errors import BackendError, NotFound
from ctrnet.ipam import Allocator, PoolConfig
from ctrnet.ipam_store import JOURNAL_FILE, LOCK_FILE, STATE_FILE, TMP_PREFIX, FileStore

FORK = multiprocessing.get_context("fork")
CONFIG = PoolConfig.create("web", "10.1.0.0/24")
WIDE = PoolConfig.create("wide", "10.2.0.0/16")


def open_pool(root: Path, config: PoolConfig = CONFIG, *, fsync: bool = True) -> Allocator:
    return Allocator(config, FileStore(root, config.name, fsync=fsync))


def reservation_files(root: Path, network: str = "web") -> dict[str, str]:
    """Address -> owner, as a reader of the directory (not the store) sees it."""
    special = {LOCK_FILE, STATE_FILE, JOURNAL_FILE}
    return {
        path.name: path.read_text()
        for path in (root / network).iterdir()
        if path.name not in special and not path.name.startswith(TMP_PREFIX)
    }


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Allocator]:
    allocator = open_pool(tmp_path)
    yield allocator
    allocator.store.close()


def test_reservation_is_a_file_named_by_the_address_holding_the_owner(
    pool: Allocator, tmp_path: Path
) -> None:
    pool.allocate("c1")
    pool.allocate("c2", requested="10.1.0.77")
    assert reservation_files(tmp_path) == {"10.1.0.2": "c1\n", "10.1.0.77": "c2\n"}
    assert not [p for p in (tmp_path / "web").iterdir() if p.name.startswith(TMP_PREFIX)]


def test_release_removes_the_reservation_file(pool: Allocator, tmp_path: Path) -> None:
    pool.allocate("c1")
    pool.release("c1")
    assert reservation_files(tmp_path) == {}


def test_reopened_store_has_the_same_allocations_and_cursor(
    pool: Allocator, tmp_path: Path
) -> None:
    for i in range(5):
        pool.allocate(f"c{i}")
    pool.release("c1")
    pool.store.close()
    reopened = open_pool(tmp_path)
    assert reopened.allocations() == pool.allocations()
    assert reopened.lookup("c4") == IPAddress("10.1.0.6")
    assert reopened.allocate("c4") == IPAddress("10.1.0.6")
    assert reopened.allocate("c5") == IPAddress("10.1.0.7")
    reopened.store.close()


def test_leftover_temp_file_is_ignored_and_removed_on_open(tmp_path: Path) -> None:
    directory = tmp_path / "web"
    directory.mkdir()
    (directory / f"{TMP_PREFIX}999.0").write_text("half-writ")
    (directory / "10.1.0.2").write_text("c1\n")
    pool = open_pool(tmp_path)
    assert pool.allocations() == {IPAddress("10.1.0.2"): "c1"}
    assert not (directory / f"{TMP_PREFIX}999.0").exists()
    pool.store.close()


def test_torn_state_record_costs_a_reload_not_a_wrong_view(pool: Allocator, tmp_path: Path) -> None:
    pool.allocate("c1")
    # What a writer killed half-way through its pwrite would leave behind.
    (tmp_path / "web" / STATE_FILE).write_bytes(b"10.1.0.2        00ab")
    (tmp_path / "web" / "10.1.0.9").write_text("outsider\n")
    assert pool.holder("10.1.0.9") == "outsider"
    assert pool.allocate("c2") not in {IPAddress("10.1.0.2"), IPAddress("10.1.0.9")}


def test_changes_of_another_process_are_read_from_the_journal_without_a_load(
    tmp_path: Path,
) -> None:
    writer, reader = open_pool(tmp_path, fsync=False), open_pool(tmp_path, fsync=False)
    assert reader.allocate("r0") == IPAddress("10.1.0.2")
    for i in range(50):
        writer.allocate(f"w{i}")
    for i in range(0, 50, 5):
        writer.release(f"w{i}")
    assert reader.allocations() == writer.allocations()
    assert reader.allocate("r1") == IPAddress("10.1.0.53")
    assert isinstance(reader.store, FileStore) and reader.store.loads == 1
    writer.store.close()
    reader.store.close()


def test_torn_journal_line_costs_a_load_not_a_missed_change(tmp_path: Path) -> None:
    writer, reader = open_pool(tmp_path, fsync=False), open_pool(tmp_path, fsync=False)
    reader.allocate("r0")
    # A writer killed one byte into its line; the next writer's line is glued to it.
    with open(tmp_path / "web" / JOURNAL_FILE, "ab") as journal:
        journal.write(b"@")
    (tmp_path / "web" / "10.1.0.9").write_text("unjournaled\n")  # only a load finds it
    writer.allocate("w0")
    assert reader.holder("10.1.0.9") == "unjournaled"
    assert reader.lookup("w0") == writer.lookup("w0") == IPAddress("10.1.0.3")
    assert isinstance(reader.store, FileStore) and reader.store.loads == 2
    writer.store.close()
    reader.store.close()


def test_journal_is_cut_at_its_limit_and_other_views_stay_right(tmp_path: Path) -> None:
    writer = Allocator(CONFIG, FileStore(tmp_path, "web", fsync=False, journal_limit=100))
    reader = open_pool(tmp_path, fsync=False)
    reader.allocate("r0")
    for i in range(60):
        writer.allocate(f"w{i}")
        if i % 3 == 0:
            writer.release(f"w{i}")
        assert (tmp_path / "web" / JOURNAL_FILE).stat().st_size <= 100 + len("@10.1.0.255\n")
        assert reader.allocations() == writer.allocations()
    assert isinstance(reader.store, FileStore) and reader.store.loads > 1
    writer.store.close()
    reader.store.close()


def test_address_taken_behind_the_stores_view_is_skipped(pool: Allocator, tmp_path: Path) -> None:
    pool.allocate("c1")
    # A file the store did not write and no token announced, e.g. from host-local itself.
    (tmp_path / "web" / "10.1.0.3").write_text("stranger\r\neth0")
    assert pool.allocate("c2") == IPAddress("10.1.0.4")
    assert pool.holder("10.1.0.3") == "stranger"
    assert (tmp_path / "web" / "10.1.0.3").read_bytes() == b"stranger\r\neth0"


def test_host_local_files_are_read_with_their_container_id_as_owner(tmp_path: Path) -> None:
    directory = tmp_path / "web"
    directory.mkdir()
    (directory / "10.1.0.5").write_text("0123abcd\r\neth0")
    (directory / "last_reserved_ip.0").write_text("10.1.0.5")
    pool = open_pool(tmp_path)
    assert pool.lookup("0123abcd") == IPAddress("10.1.0.5")
    assert pool.release("0123abcd") == IPAddress("10.1.0.5")
    assert not (directory / "10.1.0.5").exists()
    pool.store.close()


def run_children(target: Callable[..., None], args_per_child: list[tuple[Any, ...]]) -> list[Any]:
    """Fork one child per args tuple, calling target(*args, conn); what each sent on conn."""
    pipes = [FORK.Pipe(duplex=False) for _ in args_per_child]
    processes = [
        FORK.Process(target=target, args=(*args, sender))
        for args, (_, sender) in zip(args_per_child, pipes, strict=True)
    ]
    for process, (_, sender) in zip(processes, pipes, strict=True):
        process.start()
        sender.close()  # so that a child dying without an answer reads as EOF, not a hang
    answers = []
    for process, (receiver, _) in zip(processes, pipes, strict=True):
        try:
            answers.append(receiver.recv())
        except EOFError:
            process.join()
            pytest.fail(f"child {process.pid} died without answering (exit {process.exitcode})")
    for process in processes:
        process.join()
        assert process.exitcode == 0
    return answers


def test_store_under_a_path_that_is_not_a_directory_fails_with_a_typed_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "plain-file").write_text("")
    with pytest.raises(BackendError, match=r"IPAM store .*plain-file/web") as raised:
        FileStore(tmp_path / "plain-file", "web")
    assert raised.value.errno_name in {"ENOTDIR", "EEXIST"}


def test_disk_errors_inside_the_critical_section_are_typed(pool: Allocator, tmp_path: Path) -> None:
    pool.allocate("c1")
    shutil.rmtree(tmp_path / "web")  # the store's directory vanishes under it
    with pytest.raises(NotFound, match="IPAM store"):
        pool.allocate("c2")


def test_critical_section_excludes_other_processes(pool: Allocator, tmp_path: Path) -> None:
    def probe(conn: Connection) -> None:
        fd = os.open(tmp_path / "web" / LOCK_FILE, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            conn.send("acquired")
        except BlockingIOError:
            conn.send("blocked")

    with pool.store.locked():
        assert run_children(probe, [()]) == ["blocked"]
    assert run_children(probe, [()]) == ["acquired"]


def _allocate_many(root: Path, prefix: str, count: int, conn: Connection) -> None:
    pool = open_pool(root)
    conn.send([(f"{prefix}-{i}", str(pool.allocate(f"{prefix}-{i}"))) for i in range(count)])


def test_processes_sharing_a_directory_get_distinct_addresses(tmp_path: Path) -> None:
    answers = run_children(_allocate_many, [(tmp_path, f"p{n}", 25) for n in range(8)])
    results = dict(pair for answer in answers for pair in answer)
    assert len(results) == 200
    assert len(set(results.values())) == 200
    assert reservation_files(tmp_path) == {ip: f"{owner}\n" for owner, ip in results.items()}


def _allocate_shared_owners(pool: Allocator, conn: Connection) -> None:
    conn.send({f"shared-{i}": str(pool.allocate(f"shared-{i}")) for i in range(25)})


def test_processes_allocating_for_the_same_owners_agree_on_one_address_each(
    pool: Allocator, tmp_path: Path
) -> None:
    # The children inherit the parent's store (lock file already open): each must take
    # its own flock, or two could both find an owner absent and reserve it twice.
    pool.allocate("parent")
    answers = run_children(_allocate_shared_owners, [(pool,)] * 8)
    assert all(answer == answers[0] for answer in answers)
    assert len(reservation_files(tmp_path)) == 26
    assert pool.lookup("shared-7") == IPAddress(answers[0]["shared-7"])


# -- crash safety ------------------------------------------------------------------------------
#: What the child of the step test does; each reserve passes 3 steps, each release 2.
SCRIPT = [("+", "c0"), ("+", "c1"), ("+", "c2"), ("-", "c1"), ("+", "c3")]
STEPS_OF = {
    "+": ["journaled", "reservation-written", "linked"],
    "-": ["journaled", "unlinked"],
}
#: Whether an operation cut at that step is already visible on disk.
APPLIED_AT = {
    "journaled": False,
    "reservation-written": False,
    "linked": True,
    "unlinked": True,
}
CUT_POINTS = [
    (n, op, owner, step)
    for n, (op, owner, step) in enumerate(
        (op, owner, step) for op, owner in SCRIPT for step in STEPS_OF[op]
    )
]


def _run_script_stopping_at(root: Path, stop_at: int, report_fd: int) -> None:
    """Run SCRIPT, reporting each finished operation; at step number `stop_at`, say so and hang."""
    steps = 0

    def hook(name: str) -> None:
        nonlocal steps
        if steps == stop_at:
            os.write(report_fd, f"at {name}\n".encode())
            signal.pause()  # until the parent's SIGKILL
        steps += 1

    pool = Allocator(CONFIG, FileStore(root, CONFIG.name, step_hook=hook))
    for op, owner in SCRIPT:
        if op == "+":
            os.write(report_fd, f"{owner} {pool.allocate(owner)}\n".encode())
        else:
            pool.release(owner)
            os.write(report_fd, f"-{owner}\n".encode())


def _read_reports(read_fd: int) -> Iterator[str]:
    buffered = b""
    while chunk := os.read(read_fd, 65536):
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        yield from (line.decode() for line in lines)


@pytest.mark.parametrize(("stop_at", "op", "owner", "step"), CUT_POINTS)
def test_process_killed_at_each_step_leaves_every_reported_change_and_no_half_one(
    tmp_path: Path, stop_at: int, op: str, owner: str, step: str
) -> None:
    read_fd, write_fd = os.pipe()
    child = FORK.Process(target=_run_script_stopping_at, args=(tmp_path, stop_at, write_fd))
    child.start()
    os.close(write_fd)
    reported: dict[str, str] = {}
    for line in _read_reports(read_fd):
        if line.startswith("at "):
            assert line == f"at {step}"
            os.kill(child.pid or 0, signal.SIGKILL)
        elif line.startswith("-"):
            del reported[line[1:]]
        else:
            reported_owner, address = line.split()
            reported[reported_owner] = address
    os.close(read_fd)
    child.join()
    assert child.exitcode == -signal.SIGKILL

    pool = open_pool(tmp_path)
    held = {owner_: str(address) for address, owner_ in pool.allocations().items()}
    expected = dict(reported)
    if APPLIED_AT[step] and op == "+":
        assert owner in held, f"{owner} was linked, so it is reserved"
        expected[owner] = held[owner]
    elif APPLIED_AT[step] and op == "-":
        expected.pop(owner)
    assert held == expected
    leftovers = [p for p in (tmp_path / "web").iterdir() if p.name.startswith(TMP_PREFIX)]
    assert leftovers == []
    assert str(pool.allocate("after-crash")) not in held.values()
    pool.store.close()


def _allocate_forever(root: Path, round_number: int, report_fd: int) -> None:
    pool = Allocator(WIDE, FileStore(root, WIDE.name, fsync=False))
    for i in range(WIDE.size):
        owner = f"r{round_number}-{i}"
        address = pool.allocate(owner)
        os.write(report_fd, f"{owner} {address}\n".encode())
        if i % 7 == 3:
            # Said before it is done: from then on the parent may not count on that address.
            os.write(report_fd, f"-r{round_number}-{i - 2}\n".encode())
            pool.release(f"r{round_number}-{i - 2}")


def test_processes_killed_at_random_points_lose_no_reported_allocation(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    reported: dict[str, str] = {}
    for round_number in range(25):
        read_fd, write_fd = os.pipe()
        child = FORK.Process(target=_allocate_forever, args=(tmp_path, round_number, write_fd))
        child.start()
        os.close(write_fd)
        kill_after = rng.randint(1, 40)
        seen = 0
        for line in _read_reports(read_fd):
            if line.startswith("-"):
                reported.pop(line[1:], None)
            else:
                owner, address = line.split()
                reported[owner] = address
            seen += 1
            if seen == kill_after:
                os.kill(child.pid or 0, signal.SIGKILL)
        os.close(read_fd)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        pool = open_pool(tmp_path, WIDE, fsync=False)
        held = pool.allocations()
        pool.store.close()
        missing = {o: a for o, a in reported.items() if held.get(IPAddress(a)) != o}
        assert missing == {}, f"round {round_number}: reported but not in the store"
        owners = [owner for owner in held.values()]
        assert len(owners) == len(set(owners))
