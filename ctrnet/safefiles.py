"""Opening state files as untrusted input: no symlink followed, no foreign directory trusted.

Kept apart from `ctrnet.state` (and free of its dependencies) because the simulator's
`sim exec` uses it too, where only the standard library is installed.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ctrnet.errors import InvalidConfig, oserror_ja

__all__ = ["open_nofollow", "secure_dir"]


def secure_dir(path: Path, *, create: bool = True) -> Path:
    """`path` as a directory only its owner can change, made (mode 0700) when missing. A file
    in its place, a symlink, a directory writable by group or others or owned by another
    user: `InvalidConfig` with the fix. Returns `path`."""
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except FileExistsError:
            pass  # not a directory: reported below
        except OSError as exc:
            raise InvalidConfig(f"state directory {path} cannot be made: "
                                f"{exc.strerror}",
                                ja=f"状態ディレクトリ {path} を作れません: "
                                   f"{oserror_ja(exc)}") from exc
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise InvalidConfig(f"state directory {path} does not exist",
                            ja=f"状態ディレクトリ {path} は存在しません") from None
    except OSError as exc:
        raise InvalidConfig(f"state directory {path} cannot be read: {exc.strerror}",
                            ja=f"状態ディレクトリ {path} を読めません: "
                               f"{oserror_ja(exc)}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise InvalidConfig(f"state directory {path} is a symlink: point --state-dir at the "
                            "directory itself",
                            ja=f"状態ディレクトリ {path} はシンボリックリンクです: "
                               "--state-dir にはディレクトリそのものを指定してください")
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidConfig(f"state directory {path} is not a directory: move it away or "
                            "choose another --state-dir",
                            ja=f"状態ディレクトリ {path} はディレクトリではありません: 別の場所"
                               "へ移すか、別の --state-dir を指定してください")
    if info.st_uid != os.geteuid():
        raise InvalidConfig(f"state directory {path} belongs to uid {info.st_uid}, not to "
                            f"you (uid {os.geteuid()}): use a directory of your own",
                            ja=f"状態ディレクトリ {path} の所有者は uid {info.st_uid} で、"
                               f"あなた（uid {os.geteuid()}）ではありません: 自分の"
                               "ディレクトリを使ってください")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InvalidConfig(f"state directory {path} is writable by others "
                            f"(mode {stat.S_IMODE(info.st_mode):04o}): chmod go-w {path}",
                            ja=f"状態ディレクトリ {path} は他のユーザーも書き込めます"
                               f"（モード {stat.S_IMODE(info.st_mode):04o}）: "
                               f"chmod go-w {path}")
    return path


def open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open without following a symlink at `path` (O_NOFOLLOW|O_CLOEXEC); a symlink there,
    or something that is not a regular file, is `InvalidConfig` naming it."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidConfig(f"state file {path} is a symlink, which ctrnet never makes: "
                                "remove it",
                                ja=f"状態ファイル {path} はシンボリックリンクです（ctrnet は"
                                   "そうは作りません）: 削除してください") from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidConfig(f"state file {path} is not a regular file: remove it",
                            ja=f"状態ファイル {path} は通常のファイルではありません: "
                               "削除してください")
    return fd
