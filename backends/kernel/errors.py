"""Translate what the kernel says (pyroute2's NetlinkError, OSError) into ctrnet's typed errors.

The errno is kept as the kernel gave it: the conformance suite compares errnos across
backends. The message names the object and namespace; the kernel's extended-ack text, when
it sent one, is appended.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from pyroute2.netlink.exceptions import NetlinkError

from ctrnet.errors import BackendError, CtrnetError, from_errno


def translated(err: BaseException, what: str) -> BackendError | None:
    """The ctrnet error for a kernel-side failure of `what`, or None if `err` is not one."""
    if isinstance(err, NetlinkError):
        code = int(err.code)
        detail = str(err.args[1]) if len(err.args) > 1 else ""
        if detail and detail != os.strerror(code):
            return from_errno(code, f"{what}: {detail}")
        return from_errno(code, what)
    if isinstance(err, OSError) and err.errno:
        return from_errno(err.errno, what)
    return None


@contextmanager
def kernel_errors(what: str) -> Iterator[None]:
    """Re-raise kernel failures inside the body as ctrnet errors about `what`."""
    try:
        yield
    except CtrnetError:
        raise
    except (NetlinkError, OSError) as err:
        typed = translated(err, what)
        if typed is None:
            raise
        raise typed from err
