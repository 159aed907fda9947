"""Rendering a Grade: one entry point, `render`, dispatching to one module per format. The
wording the formats share lives in `ctrnet.grade.wording`, below every renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from ctrnet.grade import gradescope, jsonfmt, junit, markdown, table
from ctrnet.grade.model import Grade
from ctrnet.grade.wording import LANGS

__all__ = ["FILENAMES", "LANGS", "Format", "parse_formats", "render"]


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    GRADESCOPE = "gradescope"
    JUNIT = "junit"
    MARKDOWN = "markdown"


def render(grade: Grade, fmt: Format | str, *, lang: str = "en", color: bool = False) -> str:
    """`grade` as text in format `fmt` (`color` only matters for the table)."""
    renderers: dict[Format, Callable[[Grade, str], str]] = {
        Format.JSON: jsonfmt.render,
        Format.GRADESCOPE: gradescope.render,
        Format.JUNIT: junit.render,
        Format.MARKDOWN: markdown.render,
    }
    fmt = Format(fmt)
    if fmt is Format.TABLE:
        return table.render(grade, lang, color=color)
    return renderers[fmt](grade, lang)


#: The file each format goes to under `--output-dir`.
FILENAMES: dict[Format, str] = {
    Format.TABLE: "report.txt",
    Format.JSON: "grade.json",
    Format.GRADESCOPE: "results.json",
    Format.JUNIT: "junit.xml",
    Format.MARKDOWN: "report.md",
}


def parse_formats(text: str) -> list[Format]:
    """"table,json,junit" as formats, in order, each once; ValueError names a bad one."""
    formats: list[Format] = []
    for name in (part.strip() for part in text.split(",")):
        try:
            fmt = Format(name)
        except ValueError:
            raise ValueError(f"unknown format {name!r}; formats are "
                             f"{', '.join(f.value for f in Format)}") from None
        if fmt not in formats:
            formats.append(fmt)
    if not formats:
        raise ValueError("no format given")
    return formats
