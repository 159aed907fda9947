"""ebtables-restore (Backend.ebtables_restore): a batch of filter-table rules is one nf_tables
transaction with ebtables-nft-restore, so it applies whole or not at all. A bad line, or a -D
of a rule that is not there, leaves the table as it was and fails with ebtables' errno.
Pinned on Linux 6.18 with ebtables-nft 1.8.9.
"""

from __future__ import annotations

import errno

import pytest

from ctrnet.backend import Backend
from ctrnet.errors import BackendError

pytestmark = pytest.mark.requires("ebtables")

MAC1 = "02:00:00:00:00:01"
MAC2 = "02:00:00:00:00:02"


def _rules(backend: Backend, chain: str) -> list[str]:
    """The rules of `chain` as `ebtables -L CHAIN` prints them."""
    listing = backend.ebtables(backend.host_ns, ["-L", chain])
    return [line for line in listing.splitlines()[3:] if line]


def test_one_restore_appends_rules_to_several_chains(backend: Backend) -> None:
    backend.ebtables_restore(backend.host_ns, (
        "*filter\n"
        f"-A FORWARD -i veth1 -s ! {MAC1} -j DROP\n"
        f"-A INPUT -i veth1 -s ! {MAC1} -j DROP\n"
        "COMMIT\n"))
    expected = [f"-s ! {MAC1} -i veth1 -j DROP"]
    assert _rules(backend, "FORWARD") == expected, "FORWARD did not get its rule"
    assert _rules(backend, "INPUT") == expected, "INPUT did not get its rule"


def test_one_restore_deletes_rules_and_noflush_keeps_the_others(backend: Backend) -> None:
    for mac in (MAC1, MAC2):
        backend.ebtables(backend.host_ns, ["-A", "FORWARD", "-s", mac, "-j", "DROP"])
    backend.ebtables_restore(backend.host_ns,
                             f"*filter\n-D FORWARD -s {MAC1} -j DROP\nCOMMIT\n")
    assert _rules(backend, "FORWARD") == [f"-s {MAC2} -j DROP"], "-D removed the wrong rules"


def test_a_bad_line_leaves_the_table_unchanged_and_names_the_line(backend: Backend) -> None:
    before = backend.ebtables(backend.host_ns, ["-L"])
    with pytest.raises(BackendError) as caught:
        backend.ebtables_restore(backend.host_ns, (
            "*filter\n"
            f"-A FORWARD -s {MAC1} -j DROP\n"
            "-A FORWARD -s zz:zz -j DROP\n"
            "COMMIT\n"))
    assert caught.value.errno == errno.EINVAL, f"errno {caught.value.errno_name}, not EINVAL"
    assert "line 3" in str(caught.value), f"the error does not name line 3: {caught.value}"
    assert backend.ebtables(backend.host_ns, ["-L"]) == before, "the good line 2 was applied"


def test_deleting_a_rule_that_is_not_there_fails_with_enoent_and_changes_nothing(
    backend: Backend,
) -> None:
    # As `ebtables -D` (see test_filter): "Bad rule (does a matching rule exist in that
    # chain?)" is ENOENT; the -D before it in the batch is not applied either.
    backend.ebtables(backend.host_ns, ["-A", "FORWARD", "-s", MAC1, "-j", "DROP"])
    before = backend.ebtables(backend.host_ns, ["-L"])
    with pytest.raises(BackendError) as caught:
        backend.ebtables_restore(backend.host_ns, (
            "*filter\n"
            f"-D FORWARD -s {MAC1} -j DROP\n"
            f"-D FORWARD -s {MAC2} -j DROP\n"
            "COMMIT\n"))
    assert caught.value.errno == errno.ENOENT, f"errno {caught.value.errno_name}, not ENOENT"
    assert backend.ebtables(backend.host_ns, ["-L"]) == before, "the good -D was applied"


def test_a_rule_added_twice_in_one_batch_is_there_twice(backend: Backend) -> None:
    rule = f"-A FORWARD -s {MAC1} -j DROP\n"
    backend.ebtables_restore(backend.host_ns, f"*filter\n{rule}{rule}COMMIT\n")
    assert _rules(backend, "FORWARD") == [f"-s {MAC1} -j DROP"] * 2, "duplicates were merged"


def test_without_noflush_the_table_starts_empty_with_accept_policies(backend: Backend) -> None:
    backend.ebtables(backend.host_ns, ["-P", "FORWARD", "DROP"])
    backend.ebtables(backend.host_ns, ["-A", "INPUT", "-s", MAC1, "-j", "DROP"])
    backend.ebtables_restore(backend.host_ns, f"*filter\n-A FORWARD -s {MAC2} -j DROP\nCOMMIT\n",
                             noflush=False)
    listing = backend.ebtables(backend.host_ns, ["-L"])
    assert "Bridge chain: INPUT, entries: 0, policy: ACCEPT" in listing, listing
    assert "Bridge chain: FORWARD, entries: 1, policy: ACCEPT" in listing, listing
    assert _rules(backend, "FORWARD") == [f"-s {MAC2} -j DROP"]
