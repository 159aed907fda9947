"""Per-namespace /etc files of the simulator: iproute2's /etc/netns/NAME/FILE convention
(resolv.conf, hosts) as virtual files that live and die with the namespace.

Layering: above the data (a namespace's files), part of the backend.
"""

from __future__ import annotations

import errno

from ctrnet.backends.sim.devices import Namespace
from ctrnet.errors import from_errno


def _check(filename: str) -> None:
    # The kernel backend writes real files under /etc/netns/NAME/: a path is not a file name.
    if not filename or "/" in filename or filename in (".", ".."):
        raise from_errno(errno.EINVAL, f"{filename!r} is not a file name for /etc/netns")


class EtcFilesOps:
    """etc_write / etc_read / etc_delete of SimBackend."""

    def _ns(self, ns: str) -> Namespace:
        raise NotImplementedError  # provided by SimBackend

    def etc_write(self, ns: str, filename: str, text: str) -> None:
        space = self._ns(ns)
        _check(filename)
        if space.etc is None:
            space.etc = {}
        space.etc[filename] = text

    def etc_read(self, ns: str, filename: str) -> str | None:
        space = self._ns(ns)
        _check(filename)
        return None if space.etc is None else space.etc.get(filename)

    def etc_delete(self, ns: str, filename: str) -> None:
        space = self._ns(ns)
        _check(filename)
        if space.etc is not None:
            space.etc.pop(filename, None)
