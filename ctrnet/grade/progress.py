"""Progress of a grade on stderr (a pytest plugin, loaded with `-p ctrnet.grade.progress`):
how many checks of how many are done and which is running, so a 20–80 s grade is not silent.
On a terminal one line is rewritten in place; elsewhere (CI logs) a line at every tenth. Only
stderr: stdout carries the report, which machine formats must keep clean. In the language of
`ctrnet.i18n` (the grade runs in the process that parsed --lang)."""

from __future__ import annotations

import sys

import pytest

from ctrnet.i18n import say

_state = {"total": 0, "done": 0, "shown": -1}


def pytest_collection_finish(session: pytest.Session) -> None:
    _state.update(total=len(session.items), done=0, shown=-1)


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _state["done"] += 1
    done, total = _state["done"], max(1, _state["total"])
    name = location[2]
    stream = sys.__stderr__
    if stream is None:
        return
    if stream.isatty():
        text = f"ctrnet grade: {done}/{total} {name}"[:100]
        stream.write(f"\r\033[K{text}" + ("\r\033[K" if done >= total else ""))
        stream.flush()
        return
    tenth = done * 10 // total
    if tenth != _state["shown"]:
        _state["shown"] = tenth
        stream.write(say(f"ctrnet grade: {done}/{total} checks done\n",
                         f"ctrnet grade: {total} 件中 {done} 件の確認が終了\n"))
        stream.flush()
