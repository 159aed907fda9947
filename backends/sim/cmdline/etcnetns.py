"""/etc/netns of a simulated run: the world's per-namespace files, as real files a script writes.

On a real machine `/etc/netns/NAME/FILE` is a file like any other: a learner writes it with
`mkdir -p` and `echo … >`, and `ip netns exec NAME` bind-mounts each file over `/etc/FILE` for
the command it runs (iproute2's bind_etc()). The simulator keeps those files in the world
(`Namespace.etc`, what `Backend.etc_write` writes and the doctor reads).

Under `ctrnet sim exec|shell` as root, the run's command sees a private `/etc`: an overlay on
the machine's (writes under /etc stay the run's own and never reach the host) with a private
directory bound on `/etc/netns`. This module keeps that directory and the world the same:
`push` writes the world's files out before a command could read them, `pull` takes what the
command wrote (or removed) back into the world before a tool reads the world. The server does
both around every request, and `pull` once more at the end of the run.

As on the kernel, a directory for a namespace that does not exist is kept and means nothing
until a namespace of that name is made; a deleted namespace's files go with it in the world
(`ip netns del` leaves the real files, which a later namespace of that name would see: the
directory keeps them until the run ends, and the next `pull` after the name is reused takes
them back, as the kernel's would be).
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from ctrnet.backends.sim.backend import SimBackend

#: The larger files are not /etc files a namespace needs (resolv.conf, hosts, nsswitch.conf):
#: left out of the world rather than read into memory.
MAX_FILE = 64 * 1024


def _valid(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


class EtcNetns:
    """The run's private /etc/netns directory and its last agreed content."""

    def __init__(self, root: Path) -> None:
        #: What the command sees as /etc/netns.
        self.directory = root / "netns"
        #: The overlay's upper and work directories: the run's own writes under /etc.
        self.upper, self.work = root / "upper", root / "work"
        for folder in (root, self.directory, self.upper, self.work):
            folder.mkdir(mode=0o755, exist_ok=True)
        #: (namespace, file) -> text, as last pushed or pulled: what the directory held
        #: when the world and it last agreed.
        self._agreed: dict[tuple[str, str], str] = {}

    def mount_script(self) -> str:
        """Shell commands that, run as root in the command's new mount namespace, give it
        the private /etc: the machine's, with writes kept in `upper`, and `directory` on
        /etc/netns (made in the overlay when the machine has none)."""
        lower, upper, work = "/etc", shlex.quote(str(self.upper)), shlex.quote(str(self.work))
        return (f"mount -t overlay ctrnet-sim-etc -o lowerdir={lower},upperdir={upper},"
                f"workdir={work} /etc && mkdir -p /etc/netns && "
                f"mount --bind {shlex.quote(str(self.directory))} /etc/netns")

    # -- the world's files out ------------------------------------------------------------
    def push(self, backend: SimBackend) -> None:
        """Write what the world holds; remove what the world removed since we agreed."""
        for ns in backend.netns_list():
            held = _held(backend, ns)
            for name, text in held.items():
                if self._agreed.get((ns, name)) != text:
                    folder = self.directory / ns
                    folder.mkdir(mode=0o755, exist_ok=True)
                    (folder / name).write_text(text, encoding="utf-8", errors="surrogateescape")
                    self._agreed[(ns, name)] = text
            for key in [k for k in self._agreed if k[0] == ns and k[1] not in held]:
                (self.directory / ns / key[1]).unlink(missing_ok=True)
                del self._agreed[key]

    # -- what the command wrote, in -------------------------------------------------------
    def pull(self, backend: SimBackend) -> None:
        """Take into the world what the command wrote or removed under /etc/netns/NS/, for
        every namespace the world has."""
        for ns in backend.netns_list():
            on_disk = self._read(ns)
            held = _held(backend, ns)
            for name, text in on_disk.items():
                if held.get(name) != text:
                    backend.etc_write(ns, name, text)
                self._agreed[(ns, name)] = text
            for name in set(held) - set(on_disk):
                if (ns, name) in self._agreed:  # it was there: the command removed it
                    backend.etc_delete(ns, name)
                    del self._agreed[(ns, name)]

    def _read(self, ns: str) -> dict[str, str]:
        folder = self.directory / ns
        found: dict[str, str] = {}
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return found
        for name in names:
            path = folder / name
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            # Only regular files: a symlink could point anywhere, a fifo would block.
            if not _valid(name) or not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
                continue
            found[name] = path.read_text(encoding="utf-8", errors="surrogateescape")
        return found


def _held(backend: SimBackend, ns: str) -> dict[str, str]:
    return dict(backend.world.namespaces[ns].etc or {})
