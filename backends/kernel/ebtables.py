"""ebtables on the kernel: a batch of filter-table rules through ONE `ebtables-restore`.

ebtables-nft-restore turns the text into one nf_tables transaction, which the kernel commits
whole or not at all: a bad line (or a -D of a rule that is not there) leaves the table as it
was. Its complaint names the line; it becomes a typed error with `ebtables`' errno.
"""

from __future__ import annotations

import re

from . import tools
from .iptables import restore_failure

#: ebtables-nft-restore's wording for a rule the kernel refused ("ebtables-restore: line 2
#: failed: Bad rule (...)."), rewritten to the "line N: why" form `restore_failure` reads.
_LINE_FAILED = re.compile(r"^ebtables-restore: line (\d+) failed: ", re.MULTILINE)


def restore(real_ns: str, ns: str, text: str, *, noflush: bool) -> None:
    argv = ["ebtables-restore"]
    if noflush:
        argv.append("--noflush")
    outcome = tools.run(real_ns, argv, stdin=text)
    if outcome.ok:
        return
    stderr = _LINE_FAILED.sub(r"line \1: ", outcome.stderr)
    raise restore_failure("ebtables-restore", ns, text,
                          tools.Outcome(outcome.returncode, outcome.stdout, stderr))
