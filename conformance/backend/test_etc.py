"""Per-namespace /etc files (iproute2's /etc/netns/NAME/ convention): what a container's
programs see as /etc/resolv.conf when started with `ip netns exec`."""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import BackendError

RESOLV = "nameserver 198.51.100.53\nsearch example.test\n"


def test_written_file_reads_back_and_deletes_idempotently(backend: Backend) -> None:
    backend.netns_add("c1")
    assert backend.etc_read("c1", "resolv.conf") is None
    backend.etc_write("c1", "resolv.conf", RESOLV)
    assert backend.etc_read("c1", "resolv.conf") == RESOLV
    backend.etc_delete("c1", "resolv.conf")
    backend.etc_delete("c1", "resolv.conf")
    assert backend.etc_read("c1", "resolv.conf") is None


def test_files_are_per_namespace(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.netns_add("c2")
    backend.etc_write("c1", "resolv.conf", RESOLV)
    assert backend.etc_read("c2", "resolv.conf") is None


def test_files_go_with_their_namespace(backend: Backend) -> None:
    backend.netns_add("c1")
    backend.etc_write("c1", "resolv.conf", RESOLV)
    backend.netns_delete("c1")
    backend.netns_add("c1")
    assert backend.etc_read("c1", "resolv.conf") is None


def test_file_of_a_missing_namespace_fails_with_enoent(backend: Backend) -> None:
    with pytest.raises(BackendError) as caught:
        backend.etc_write("nowhere", "resolv.conf", RESOLV)
    assert caught.value.errno == errno.ENOENT


@pytest.mark.parametrize("filename", ["", "../passwd", "a/b", ".."])
def test_file_name_with_a_path_is_refused_with_einval(backend: Backend, filename: str) -> None:
    backend.netns_add("c1")
    with pytest.raises(BackendError) as caught:
        backend.etc_write("c1", filename, RESOLV)
    assert caught.value.errno == errno.EINVAL
