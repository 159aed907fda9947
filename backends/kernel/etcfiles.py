"""Per-namespace files of the kernel backend, in iproute2's convention: /etc/netns/NAME/FILE,
which `ip netns exec NAME` bind-mounts over /etc/FILE for the programs it runs (resolv.conf,
hosts). The directory goes with the namespace (`nsfs.remove`)."""

from __future__ import annotations

import errno
import os
import tempfile
from typing import TYPE_CHECKING

from ctrnet.errors import from_errno

from . import nsfs

if TYPE_CHECKING:
    from .spaces import Space


def _path(space: Space, filename: str) -> str:
    if not filename or "/" in filename or filename in (".", ".."):
        raise from_errno(errno.EINVAL, f"{filename!r} is not a file name for /etc/netns")
    return os.path.join(nsfs.etc_dir(space.real), filename)


class EtcFilesMixin:
    """etc_write / etc_read / etc_delete of KernelBackend."""

    def _space(self, ns: str) -> Space:
        raise NotImplementedError  # provided by KernelBackend

    def etc_write(self, ns: str, filename: str, text: str) -> None:
        path = _path(self._space(ns), filename)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        # Atomic: a reader (a program started by `ip netns exec`) sees the old or the new file.
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".{filename}.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def etc_read(self, ns: str, filename: str) -> str | None:
        try:
            with open(_path(self._space(ns), filename)) as src:
                return src.read()
        except FileNotFoundError:
            return None

    def etc_delete(self, ns: str, filename: str) -> None:
        try:
            os.unlink(_path(self._space(ns), filename))
        except FileNotFoundError:
            pass
