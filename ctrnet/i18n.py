"""The language of what ctrnet says to people: Japanese or English, one switch for every command.

`--lang ja|en` decides; without it, the POSIX locale variables do, in their order of precedence
(LC_ALL, then LC_MESSAGES, then LANG: the first one set and not empty wins), and a locale
starting with "ja" means Japanese. Machine output (--json, pcap, Graphviz) is not translated.
Messages are written at their call site in both languages, `say("English", "日本語")`, so a
reader sees what is said without a catalogue to look up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

__all__ = ["LANGS", "current", "detect", "from_argv", "say", "set_lang"]

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
