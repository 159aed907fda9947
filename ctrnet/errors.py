"""Errors of ctrnet: one root, a few named kinds, each carrying the errno the kernel gives.

Both backends raise these, so a caller (or a conformance test) cannot tell which backend it
talks to by the error it gets. `from_errno` picks the kind for an errno.

Two wordings. An error a person may read is written at its raise site in English and in
Japanese: ``InvalidConfig("subnet 'x' is not a CIDR", ja="サブネット 'x' は CIDR ではありません")``.
``str(exc)`` is always the English one: logs, --json, other programs and the tests read it,
whatever `--lang` says. ``exc.said()`` is the wording of the current language
(`ctrnet.i18n.current()`), which the command line prints; `in_lang` asks for one. A
BackendError ends with its errno, ``(EEXIST: File exists)``; in Japanese the errno's name stays
and its description is the Japanese one of `strerror_ja` (the errnos ctrnet uses; any other
keeps the C library's English text). An error raised without `ja` says its English in both
(tests/test_i18n_coverage.py keeps the core from raising one).
"""

from __future__ import annotations

import errno as _errno
import os

from ctrnet import i18n


class CtrnetError(Exception):
    """Root of every error ctrnet raises on purpose."""

    errno: int = 0

    def __init__(self, message: str, errno: int | None = None, *,
                 ja: str | None = None) -> None:
        super().__init__(message)
        if errno is not None:
            self.errno = errno
        #: The Japanese wording of `message` (None: there is none, English stands for it).
        self.message_ja = ja

    @property
    def errno_name(self) -> str:
        return _errno.errorcode.get(self.errno, str(self.errno))

    @property
    def message(self) -> str:
        """The English wording as raised (without what `__str__` may add to it)."""
        return str(self.args[0]) if self.args else ""

    def in_lang(self, lang: str) -> str:
        """The whole message in `lang` ("ja" or "en"); `str(exc)` is `in_lang("en")`."""
        if lang != "ja":
            return str(self)
        return (self.message if self.message_ja is None else self.message_ja) + \
            self._suffix("ja")

    def said(self) -> str:
        """The whole message in the current language of `ctrnet.i18n`."""
        return self.in_lang(i18n.current())

    def _suffix(self, lang: str) -> str:
        """What a kind adds after the message (BackendError: its errno)."""
        return ""

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as what it is, whatever its own constructor takes: its kind, English and
        Japanese wordings, errno and attributes (a kind such as `FieldError(field, message)`
        cannot be rebuilt by calling it with its args, as pickle would). The grader's world
        server sends errors to a plugin's process so (`ctrnet.grade.remote`)."""
        return (_rebuilt, (type(self), self.message, self.errno, self.message_ja),
                dict(self.__dict__))


def _rebuilt(kind: type[CtrnetError], message: str, errno: int,
             ja: str | None) -> CtrnetError:
    """An error of `kind` with these wordings and errno, its own constructor bypassed (the
    wordings are final already); pickle then restores its attributes."""
    error = kind.__new__(kind)
    CtrnetError.__init__(error, message, errno, ja=ja)
    return error


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
        return self.message + self._suffix("en")

    def _suffix(self, lang: str) -> str:
        text = strerror_ja(self.errno) if lang == "ja" else os.strerror(self.errno)
        return f" ({self.errno_name}: {text})"


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


class NotModelled(BackendError):
    """A backend does not model what was asked (the simulator, a sysctl value whose effect it
    would otherwise ignore): refused loudly rather than answered wrongly (EOPNOTSUPP)."""

    errno = _errno.EOPNOTSUPP


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


def from_errno(err: int, message: str, *, ja: str | None = None) -> BackendError:
    """The typed error for `err`, e.g. ``from_errno(errno.EEXIST, "link br0")``."""
    return _KINDS.get(err, BackendError)(message, err, ja=ja)


#: The C library's descriptions of the errnos ctrnet's errors carry, in Japanese (glibc's
#: own ja catalogue is not installed everywhere, and its wording varies between versions).
_STRERROR_JA = {
    _errno.EPERM: "操作は許可されていません",
    _errno.ENOENT: "そのようなファイルやディレクトリはありません",
    _errno.ESRCH: "そのようなプロセスはありません",
    _errno.EIO: "入出力エラー",
    _errno.EACCES: "許可がありません",
    _errno.EBUSY: "デバイスまたはリソースがビジー状態です",
    _errno.EEXIST: "ファイルが存在します",
    _errno.ENODEV: "そのようなデバイスはありません",
    _errno.ENOTDIR: "ディレクトリではありません",
    _errno.EISDIR: "ディレクトリです",
    _errno.EINVAL: "無効な引数です",
    _errno.ENOSPC: "デバイスに空き領域がありません",
    _errno.EROFS: "読み込み専用のファイルシステムです",
    _errno.ERANGE: "計算結果が表現できる範囲外です",
    _errno.ENAMETOOLONG: "ファイル名が長すぎます",
    _errno.ELOOP: "シンボリックリンクの階層が多すぎます",
    _errno.ENOTEMPTY: "ディレクトリが空ではありません",
    _errno.EOPNOTSUPP: "操作がサポートされていません",
    _errno.EADDRINUSE: "アドレスは既に使用中です",
    _errno.EADDRNOTAVAIL: "要求されたアドレスを割り当てできません",
    _errno.ENETUNREACH: "ネットワークに到達できません",
    _errno.EHOSTUNREACH: "ホストに到達できません",
    _errno.EXFULL: "交換が満杯です",
    _errno.ETIMEDOUT: "接続がタイムアウトしました",
    _errno.ECONNREFUSED: "接続を拒否されました",
}


def strerror_ja(err: int) -> str:
    """The description of errno `err` in Japanese (the C library's English one for an errno
    ctrnet does not use)."""
    return _STRERROR_JA.get(err) or os.strerror(err)


def oserror_ja(exc: OSError) -> str:
    """What `exc.strerror` says, in Japanese where `strerror_ja` knows its errno."""
    if exc.errno:
        return strerror_ja(exc.errno)
    return str(exc.strerror or exc)
