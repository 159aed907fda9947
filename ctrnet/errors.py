"""Errors of ctrnet: one root, a few named kinds, each carrying the errno the kernel gives.

Both backends raise these, so a caller (or a conformance test) cannot tell which backend it
talks to by the error it gets. `from_errno` picks the kind for an errno.
"""

from __future__ import annotations

import errno as _errno
import os


class CtrnetError(Exception):
    """Root of every error ctrnet raises on purpose."""

    errno: int = 0

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(message)
        if errno is not None:
            self.errno = errno

    @property
    def errno_name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))


class InvalidConfig(CtrnetError):
    """A user's value is wrong before anything is asked of the kernel (bad subnet, bad name)."""

    errno = _errno.EINVAL


class PoolExhausted(CtrnetError):
    """An address pool has no free address left."""

    errno = _errno.ENOSPC


class BackendError(CtrnetError):
    """A backend operation failed; `errno` is what the kernel returns for the same request."""

    errno = _errno.EIO

    def __str__(self) -> str:
        return f"{super().__str__()} ({self.errno_name}: {os.strerror(self.errno)})"


class NotFound(BackendError):
    """The named object does not exist (ENOENT, ENODEV, ESRCH, EADDRNOTAVAIL)."""

    errno = _errno.ENOENT


class AlreadyExists(BackendError):
    """An object with that name or value exists already (EEXIST)."""

    errno = _errno.EEXIST


class InvalidArgument(BackendError):
    """The kernel refuses the value (EINVAL, ERANGE, EOPNOTSUPP, ELOOP…)."""

    errno = _errno.EINVAL


class Busy(BackendError):
    """The object is in use (EBUSY, EXFULL)."""

    errno = _errno.EBUSY


class Unreachable(BackendError):
    """No route / gateway not reachable (ENETUNREACH, EHOSTUNREACH)."""

    errno = _errno.ENETUNREACH


class PermissionDenied(BackendError):
    """The backend lacks the privilege it needs (EPERM, EACCES)."""

    errno = _errno.EPERM


_KINDS: dict[int, type[BackendError]] = {
    _errno.ENOENT: NotFound,
    _errno.ENODEV: NotFound,
    _errno.ESRCH: NotFound,
    _errno.EADDRNOTAVAIL: NotFound,
    _errno.EEXIST: AlreadyExists,
    _errno.EINVAL: InvalidArgument,
    _errno.ERANGE: InvalidArgument,
    _errno.EOPNOTSUPP: InvalidArgument,
    _errno.ELOOP: InvalidArgument,
    _errno.EBUSY: Busy,
    _errno.EXFULL: Busy,
    _errno.EADDRINUSE: Busy,
    _errno.ENETUNREACH: Unreachable,
    _errno.EHOSTUNREACH: Unreachable,
    _errno.EPERM: PermissionDenied,
    _errno.EACCES: PermissionDenied,
}


def from_errno(err: int, message: str) -> BackendError:
    """The typed error for `err`, e.g. ``from_errno(errno.EEXIST, "link br0")``."""
    return _KINDS.get(err, BackendError)(message, err)
