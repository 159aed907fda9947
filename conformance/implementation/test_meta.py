"""The suite itself (topic meta): every checklist item has tests, and every implementation
test says which item or topic it evidences (the grader's report is built from the marks)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from .conftest import CHECKLIST


def _tests() -> list[tuple[str, list[pytest.Mark]]]:
    package = importlib.import_module(__package__ or "ctrnet.conformance.implementation")
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        module_marks = list(getattr(module, "pytestmark", []))
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and function.__module__ == module.__name__:
                found.append((f"{info.name}.{name}",
                              module_marks + list(getattr(function, "pytestmark", []))))
    return found


@pytest.mark.topic("meta")
def test_every_checklist_item_has_at_least_one_test() -> None:
    covered = {mark.args[0] for _name, marks in _tests() for mark in marks
               if mark.name == "checklist"}
    uncovered = sorted(set(CHECKLIST) - covered)
    assert uncovered == [], f"checklist items without a test: {', '.join(uncovered)}"


@pytest.mark.topic("meta")
def test_every_test_names_a_checklist_item_or_a_topic() -> None:
    unmarked = [name for name, marks in _tests()
                if not any(mark.name in ("checklist", "topic") for mark in marks)]
    assert unmarked == [], f"tests with no checklist or topic mark: {', '.join(unmarked)}"
    unknown = [name for name, marks in _tests() for mark in marks
               if mark.name == "checklist" and mark.args[0] not in CHECKLIST]
    assert unknown == [], f"tests marked with an unknown checklist item: {', '.join(unknown)}"
