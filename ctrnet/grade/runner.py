"""Grading: run the implementation-conformance tests against one implementation on one
backend, in this process (pytest.main), and turn their outcomes into a `Grade`.

Each test names the checklist item it evidences with `@pytest.mark.checklist(ID)` (or an
extra topic with `@pytest.mark.topic(NAME)`); a collector plugin files every outcome under
its item with a one-line reason. Everything a run makes lives in a temporary directory and
the worlds pytest's fixtures remove, so nothing is left behind, also on failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ctrnet.backend import LAUNCH_IN_NAMESPACE, SIMULATED_COMMAND_LINE
from ctrnet.errors import CtrnetError, oserror_ja
from ctrnet.grade import model
from ctrnet.grade.model import Grade, Outcome, TestResult
from ctrnet.grade.sandbox import NETNS_OWNER_ENV, OwnerNamespace
from ctrnet.registry import REGISTRY, entry

#: The suites graded: the CNI checks (per item) and the core's implementation suite.
SUITES = ("ctrnet.conformance.cni", "ctrnet.conformance.implementation")
#: The exception's (dotted) class name pytest puts before a failure's message, dropped
#: from the reason: "ctrnet.errors.Unreachable: …", "AssertionError: …", "Failed: …".
_PREFIX = re.compile(r"^(?:[a-z_]\w*\.)*[A-Z]\w*(?:\[[^]]*\])?: ")


def _one_line(text: str) -> str:
    first = next((line for line in text.strip().splitlines() if line.strip()), "")
    return _PREFIX.sub("", first.strip())


def _japanese(error: BaseException | None) -> str:
    """The Japanese wording an exception carries (a CtrnetError's, or `message_ja` of one
    that is not, such as the CNI checks' Blocked), one line; "" when it has none."""
    if isinstance(error, CtrnetError):
        return _one_line(error.in_lang("ja")) if error.message_ja is not None else ""
    said = getattr(error, "message_ja", None)
    return _one_line(said) if isinstance(said, str) else ""


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return _one_line(str(longrepr[2]))
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return _one_line(crash.message)
    return _one_line(str(longrepr))


@dataclass(eq=False)  # pluggy keeps plugins in sets: hash by identity
class Collector:
    """pytest plugin: files each test's outcome under its checklist item or topic."""

    labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    results: dict[str, TestResult] = field(default_factory=dict)
    collect_errors: list[str] = field(default_factory=list)
    #: (nodeid, phase) -> the Japanese wording of the exception that ended it.
    japanese: dict[tuple[str, str], str] = field(default_factory=dict)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Iterator[None]:
        if call.excinfo is not None:
            said = _japanese(call.excinfo.value)
            if said:
                self.japanese[item.nodeid, call.when] = said
        yield

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            self.names[item.nodeid] = item.name
            mark = item.get_closest_marker("checklist")
            if mark is not None and mark.args and not _reference_suite(item):
                self.labels[item.nodeid] = ("checklist", str(mark.args[0]))
                continue
            mark = item.get_closest_marker("topic")
            topic = str(mark.args[0]) if mark is not None and mark.args else (
                "conventions" if _reference_suite(item) else "other")
            self.labels[item.nodeid] = ("topic", topic)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {_message(report)}")  # type: ignore[arg-type]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = self.names.get(report.nodeid, report.nodeid.rsplit("::", 1)[-1])
        known = self.results.get(report.nodeid)
        if report.when == "call":
            outcome = Outcome(report.outcome)
        elif report.failed:
            outcome = Outcome.ERROR
        elif report.skipped:
            outcome = Outcome.SKIPPED
        else:
            return
        if known is not None and known.bad:
            return  # a teardown error after a failure: the failure says more
        bad = outcome is not Outcome.PASSED
        self.results[report.nodeid] = TestResult(
            name, outcome, _message(report) if bad else "", report.duration,
            message_ja=self.japanese.get((report.nodeid, report.when), "") if bad else "")

    def grouped(self) -> tuple[dict[str, list[TestResult]], dict[str, list[TestResult]]]:
        by_item: dict[str, list[TestResult]] = {}
        extras: dict[str, list[TestResult]] = {}
        for nodeid, result in self.results.items():
            kind, label = self.labels.get(nodeid, ("topic", "other"))
            (by_item if kind == "checklist" else extras).setdefault(label, []).append(result)
        return by_item, extras


def _reference_suite(item: pytest.Item) -> bool:
    """A test of the implementation suite (written for ctrnet's own model, with conventions
    of real runtimes the guide does not teach: MTU, the loopback, 50 containers): in a grade
    it is an extra. The items are judged by the grader's checks (`conformance.cni`), which
    follow the guide item by item and say what blocked them."""
    module = getattr(getattr(item, "module", None), "__name__", "")
    return ".conformance.implementation." in f".{module}"


@dataclass(frozen=True)
class Request:
    """What to grade, and how."""

    impl: str = "ctrnet"
    backend: str = "sim"
    conf: str | None = None  # a JSON file merged into the network config the plugin gets
    timeout: float | None = None  # per plugin call
    suites: tuple[str, ...] = SUITES
    pytest_args: tuple[str, ...] = ()


class CannotGrade(CtrnetError):
    """Grading cannot start (missing plugin, no root for the kernel, unknown backend)."""


#: A note of the report, in English and in Japanese.
NETLINK_NOTE = ("this plugin configures through netlink, which the simulator cannot run: "
                "grade it with --backend kernel",
                "このプラグインは netlink で設定を行いますが、シミュレータでは netlink を"
                "実行できません: --backend kernel で採点してください")


def preflight(request: Request) -> list[str]:
    """Refuse what cannot run, with one line; return notes for the report (English; their
    Japanese wordings: `preflight_notes`)."""
    return [en for en, _ in preflight_notes(request)]


def preflight_notes(request: Request) -> list[tuple[str, str]]:
    """`preflight`, its notes in (English, Japanese)."""
    notes: list[tuple[str, str]] = []
    if request.backend not in REGISTRY:
        choices = ", ".join(REGISTRY)
        raise CannotGrade(f"unknown backend {request.backend!r}; choose one of {choices}",
                          ja=f"バックエンド {request.backend!r} はありません。"
                             f"{choices} から選んでください")
    unavailable = entry(request.backend).unavailable()
    if unavailable is not None:
        if unavailable.endswith("needs root"):
            raise CannotGrade(f"{unavailable}: run as root, or use --backend sim",
                              ja=f"{request.backend} バックエンドには root が必要です: root で"
                                 "実行するか、--backend sim を使ってください")
        raise CannotGrade(unavailable, ja=unavailable)  # the registry's words (English)
    if request.impl.startswith("cni:"):
        path = request.impl.removeprefix("cni:")
        if not os.path.isfile(path):
            raise CannotGrade(f"CNI plugin {path} does not exist",
                              ja=f"CNI プラグイン {path} は存在しません")
        if not os.access(path, os.X_OK):
            raise CannotGrade(f"CNI plugin {path} is not executable (chmod +x {path})",
                              ja=f"CNI プラグイン {path} は実行可能ではありません"
                                 f"（chmod +x {path}）")
        if _crlf_shebang(path):
            raise CannotGrade(f"CNI plugin {path} has Windows line endings (its #! line ends "
                              f"in CR, so no interpreter is found): dos2unix {path}",
                              ja=f"CNI プラグイン {path} の改行が Windows 形式です（#! 行が CR "
                                 f"で終わるのでインタプリタが見つかりません）: dos2unix {path}")
        if SIMULATED_COMMAND_LINE in entry(request.backend).capabilities \
                and _speaks_netlink(path):
            notes.append(NETLINK_NOTE)
    elif request.impl != "ctrnet":
        raise CannotGrade(f"--impl {request.impl!r}: expected ctrnet or cni:PATH",
                          ja=f"--impl {request.impl!r}: ctrnet か cni:PATH を指定してください")
    if request.conf is not None:
        try:
            data = json.loads(Path(request.conf).read_text())
        except OSError as exc:
            raise CannotGrade(f"--conf {request.conf}: {exc}",
                              ja=f"--conf {request.conf}: {oserror_ja(exc)}") from None
        except ValueError as exc:
            raise CannotGrade(f"--conf {request.conf}: {exc}",
                              ja=f"--conf {request.conf}: JSON として読めません（{exc}）") from None
        if not isinstance(data, dict):
            raise CannotGrade(f"--conf {request.conf}: not a JSON object",
                              ja=f"--conf {request.conf}: JSON のオブジェクトではありません")
    return notes


def _crlf_shebang(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return False
    return first.startswith(b"#!") and first.endswith(b"\r\n")


def _netlink_on_the_simulator(request: Request) -> bool:
    return (SIMULATED_COMMAND_LINE in entry(request.backend).capabilities
            and request.impl.startswith("cni:")
            and _speaks_netlink(request.impl.removeprefix("cni:")))


def _speaks_netlink(path: str) -> bool:
    """A guess from the executable itself: an ELF binary (CNI's Go plugins) or a script
    importing a netlink library cannot run on the simulated command line."""
    try:
        head = Path(path).read_bytes()[:65536]
    except OSError:
        return False
    if head.startswith(b"\x7fELF"):
        return True
    return any(word in head for word in (b"pyroute2", b"vishvananda/netlink", b"import netlink"))


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _untrusted_on_the_kernel(request: Request) -> bool:
    """A learner's plugin graded on the real kernel by root: its world is to be owned by a
    user namespace of its own (see `ctrnet.grade.sandbox.OwnerNamespace`). ctrnet's own
    plugin is trusted (and talks to the grader's world over a root-only socket)."""
    return (request.impl.startswith("cni:")
            and LAUNCH_IN_NAMESPACE in entry(request.backend).capabilities
            and os.geteuid() == 0)


def _suite_paths(suites: tuple[str, ...]) -> list[str]:
    paths = []
    for name in suites:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths += list(spec.submodule_search_locations)
    return paths


def grade(request: Request) -> Grade:
    """Run the suites against the implementation and say how each checklist item fared."""
    start = time.monotonic()
    try:
        notes = preflight_notes(request)
    except CannotGrade as exc:
        return model.build(request.impl, request.backend, {}, error=str(exc),
                           error_ja=exc.in_lang("ja"))
    paths = _suite_paths(request.suites)
    if not paths:
        return model.build(request.impl, request.backend, {},
                           error="the implementation-conformance suite is not installed",
                           error_ja="実装の適合性テストスイートがインストールされていません")
    workdir = Path(tempfile.mkdtemp(prefix="ctrnet-grade-"))
    collector = Collector()
    env = {"CTRNET_IMPL": request.impl}
    if request.conf is not None:
        env["CTRNET_CNI_CONF"] = os.path.abspath(request.conf)
    if request.timeout is not None:
        env["CTRNET_CNI_TIMEOUT"] = str(request.timeout)
    argv = [*paths, "--backend", request.backend, "--impl", request.impl,
            "-p", "no:cacheprovider", "--basetemp", str(workdir / "tmp"), "-q",
            "--rootdir", str(workdir), "-o", "addopts=", *request.pytest_args]
    output = io.StringIO()
    owner = None
    if _untrusted_on_the_kernel(request):
        try:
            owner = OwnerNamespace()
            env[NETNS_OWNER_ENV] = owner.path
        except OSError:
            notes.append(("this machine cannot make user namespaces: the plugin ran with "
                          "root's privileges (in pid and mount namespaces of its own only)",
                          "このマシンではユーザ名前空間を作れません: プラグインは root の権限で"
                          "実行されました（専用の pid・マウント名前空間の中だけ）"))
    try:
        with _environment(env), contextlib.redirect_stdout(output):
            code = pytest.main(argv, plugins=[collector])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if owner is not None:
            owner.close()
    by_item, extras = collector.grouped()
    error: str | None = None
    error_ja = ""
    outcomes = list(collector.results.values())
    if outcomes and all(r.outcome in (Outcome.ERROR, Outcome.SKIPPED) for r in outcomes) \
            and any(r.outcome is Outcome.ERROR for r in outcomes):
        # Not one test got as far as the implementation: the world itself could not be
        # built (a broken backend, a missing tool), which is no fault of the implementation.
        first = next(r for r in outcomes if r.outcome is Outcome.ERROR)
        error = f"no test could set up its world: {first.message}"
        error_ja = f"どのテストも世界を用意できませんでした: {first.said('ja')}"
    elif collector.collect_errors:
        error = "the suite could not be collected: " + collector.collect_errors[0]
        error_ja = "テストスイートを収集できませんでした: " + collector.collect_errors[0]
    elif code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
                  pytest.ExitCode.USAGE_ERROR) or not collector.results:
        tail = _one_line(output.getvalue().strip().splitlines()[-1] if output.getvalue().strip()
                         else "") or f"pytest exit {int(code)}"
        error = f"the suite did not run: {tail}"
        error_ja = f"テストスイートが実行されませんでした: {tail}"
    if error is None and _netlink_on_the_simulator(request) and not any(
            t.outcome is Outcome.PASSED for tests in by_item.values() for t in tests):
        # Nothing of the plugin worked where it cannot work: not a 0/6, grading could not run.
        error = ("this plugin configures through netlink, which the simulator cannot run: "
                 "grade it with --backend kernel (as root)")
        error_ja = NETLINK_NOTE[1] + "（root で）"
    return model.build(request.impl, request.backend, by_item, extras=extras,
                       notes=tuple(en for en, _ in notes), error=error,
                       duration=time.monotonic() - start, error_ja=error_ja,
                       notes_ja=tuple(ja for _, ja in notes))


def conf_extra() -> dict[str, Any]:
    """The keys of `--conf` (passed as $CTRNET_CNI_CONF) to merge into the network config."""
    path = os.environ.get("CTRNET_CNI_CONF")
    if not path:
        return {}
    data = json.loads(Path(path).read_text())
    return data if isinstance(data, dict) else {}
