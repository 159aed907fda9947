"""The language of what ctrnet says to people: Japanese or English, one switch for every command.

`--lang ja|en` decides; without it, the POSIX locale variables do, in their order of precedence
(LC_ALL, then LC_MESSAGES, then LANG: the first one set and not empty wins), and a locale
starting with "ja" means Japanese. Machine output (--json, pcap, Graphviz) is not translated.
Messages are written at their call site in both languages, `say("English", "日本語")`, so a
reader sees what is said without a catalogue to look up. An error is raised with both
wordings too, `InvalidConfig("English", ja="日本語")` (`ctrnet.errors`): its `str()` stays
English, the command line prints the current language's. tests/test_i18n_coverage.py keeps
every help text and every error of the core in both languages.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence

__all__ = ["LANGS", "current", "detect", "from_argv", "localize_argparse", "say", "set_lang"]

LANGS = ("ja", "en")
_current = ["en"]


def detect(env: Mapping[str, str] | None = None) -> str:
    """The language the locale variables of `env` (default: ours) ask for."""
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def from_argv(argv: Sequence[str]) -> str | None:
    """The value of `--lang X` / `--lang=X` among `argv`, up to a `--` (what follows it is
    somebody else's: a command run under `sim exec`, pytest's arguments)."""
    for i, word in enumerate(argv):
        if word == "--":
            return None
        if word.startswith("--lang="):
            return word.split("=", 1)[1]
        if word == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def set_lang(lang: str) -> None:
    _current[0] = "ja" if lang == "ja" else "en"


def current() -> str:
    return _current[0]


def say(en: str, ja: str) -> str:
    """`en` or `ja`, whichever the current language is."""
    return ja if _current[0] == "ja" else en


#: argparse's own words (usage lines, section titles, its error messages), in Japanese.
_ARGPARSE_JA = {
    "usage: ": "使い方: ",
    "positional arguments": "位置引数",
    "options": "オプション",
    "show this help message and exit": "このヘルプを表示して終了する",
    "show program's version number and exit": "バージョンを表示して終了する",
    "the following arguments are required: %s": "次の引数が必要です: %s",
    "unrecognized arguments: %s": "認識できない引数です: %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "不正な選択肢です: %(value)r（%(choices)s から選ぶ）",
    "expected one argument": "引数が 1 つ必要です",
    "expected at most one argument": "引数は 1 つまでです",
    "expected at least one argument": "引数が 1 つ以上必要です",
    "argument %(argument_name)s: %(message)s": "引数 %(argument_name)s: %(message)s",
    "not allowed with argument %s": "引数 %s と一緒には使えません",
    "one of the arguments %s is required": "引数 %s のどれか 1 つが必要です",
    "ambiguous option: %(option)s could match %(matches)s":
        "あいまいなオプションです: %(option)s は %(matches)s のどれにも当てはまります",
    "ignored explicit argument %r": "明示された引数 %r は無視されました",
    "can't open '%(filename)s': %(error)s": "'%(filename)s' を開けません: %(error)s",
    "invalid %(type)s value: %(value)r": "%(type)s として不正な値です: %(value)r",
    "%(prog)s: error: %(message)s\n": "%(prog)s: エラー: %(message)s\n",
}


def localize_argparse() -> None:
    """Have argparse say its own words (usage, section titles, errors) in the current
    language too. argparse looks its messages up through `argparse._` (gettext) when it
    formats them, so a lookup that follows `current()` is enough; without a Japanese entry a
    message stays as argparse wrote it. Idempotent."""
    argparse._ = _argparse_lookup  # type: ignore[attr-defined]


_ARGPARSE_GETTEXT: Callable[[str], str] = argparse._  # type: ignore[attr-defined]


def _argparse_lookup(message: str) -> str:
    if _current[0] == "ja":
        return _ARGPARSE_JA.get(message, _ARGPARSE_GETTEXT(message))
    return _ARGPARSE_GETTEXT(message)
