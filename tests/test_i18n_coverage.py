"""`--lang ja` reaches every help text and every error a person reads, and stays there.

Three guards, each found by a machine rather than by a list of cases kept by hand:
- the source: every `help=` (and description/epilog) of the core's parsers is a `say(...)`,
  and every CtrnetError the core builds carries its Japanese wording (`ja=`), except the
  counted leftovers of KNOWN_ENGLISH, which may only shrink; and the grader hands no English
  written in place straight to a person (its refusals, verdict and progress lines); and the
  CNI checks (conformance/cni) build every Blocked/Finding with `ja=` and keep no English
  assert message beyond the counted KNOWN_ENGLISH_ASSERTS;
- the help pages: every command and verb the parser has, asked for `--help` under
  `--lang ja`, holds no English sentence, while under `--lang en` the same pages do (so the
  heuristic is seen to catch English);
- real mistakes on the simulator: one Japanese line and a non-zero exit under `--lang ja`
  and under LANG=ja_JP.UTF-8, and under `--lang en` the English line, unchanged.
"""

from __future__ import annotations

import argparse
import ast
import errno
import io
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from ctrnet import i18n
from ctrnet.cli import build_parser, main
from ctrnet.errors import InvalidConfig, from_errno

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ctrnet"
#: Not the core: the backends and the suite (symlinks into ctrnet/); the simulated tools
#: (cmdline/) and the netfilter model under them (netfilter/), whose messages are the real
#: tools' own words, byte for byte ("Chain already exists.", "Index of deletion too big"):
#: iptables and ebtables print English, and `ctrnet sim compare` holds the shims to them.
OUTSIDE = {"backends", "conformance", "cmdline", "netfilter"}

#: Files of the core that still build errors without a Japanese wording, and how many.
#: Translate one and lower its count here (the test fails on a stale count too).
KNOWN_ENGLISH: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    i18n.set_lang("en")


def _core_files(core: Path = CORE) -> list[Path]:
    return sorted(p for p in core.rglob("*.py")
                  if not OUTSIDE & set(p.relative_to(core).parts))


def _trees(core: Path) -> dict[Path, ast.Module]:
    """The core's files and the backends' (where more error classes are defined)."""
    files = _core_files(core) + sorted((core.parent / "backends").rglob("*.py"))
    return {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _error_classes(trees: dict[Path, ast.Module]) -> tuple[set[str], set[str]]:
    """The CtrnetError classes (by name), and those of them whose __init__ words the error
    itself in both languages (no `ja` parameter, `ja=` passed to its super().__init__)."""
    kinds = {"CtrnetError"}
    classes = [n for t in trees.values() for n in ast.walk(t) if isinstance(n, ast.ClassDef)]
    grown = True
    while grown:
        grown = False
        for cls in classes:
            if cls.name not in kinds and any(_name(b) in kinds for b in cls.bases):
                kinds.add(cls.name)
                grown = True
    self_worded = set()
    for cls in classes:
        init = next((f for f in cls.body
                     if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        if cls.name not in kinds or init is None:
            continue
        params = {a.arg for a in init.args.args + init.args.kwonlyargs}
        passes_ja = any(isinstance(c, ast.Call) and any(k.arg == "ja" for k in c.keywords)
                        for c in ast.walk(init))
        if "ja" not in params and passes_ja:
            self_worded.add(cls.name)
    return kinds, self_worded


def _english_only_errors(core: Path = CORE) -> Counter[str]:
    """Per core file: the calls building a CtrnetError (or `from_errno`) without `ja=`."""
    trees = _trees(core)
    kinds, self_worded = _error_classes(trees)
    builders = (kinds - self_worded) | {"from_errno"}
    found: Counter[str] = Counter()
    for path in _core_files(core):
        for node in ast.walk(trees[path]):
            if (isinstance(node, ast.Call) and _name(node.func) in builders
                    and (node.args or node.keywords)
                    and not any(k.arg == "ja" for k in node.keywords)):
                found[str(path.relative_to(core.parent))] += 1
    return found


def test_every_error_the_core_builds_has_a_japanese_wording() -> None:
    found = _english_only_errors()
    new = {f: n for f, n in found.items() if n > KNOWN_ENGLISH.get(f, 0)}
    assert not new, f"errors without ja= (pass the Japanese wording): {new}"
    assert dict(found) == KNOWN_ENGLISH, "KNOWN_ENGLISH is stale: lower it to what is left"


def test_no_error_is_worded_by_the_current_language() -> None:
    """`say()` inside a raise would make str(exc) follow --lang: logs and --json would change
    language with it. Errors take both wordings instead (`ja=`)."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in _core_files()
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Raise) and node.exc is not None
             and any(isinstance(c, ast.Call) and _name(c.func) == "say"
                     for c in ast.walk(node.exc))]
    assert found == []


def test_the_scan_sees_an_error_without_its_japanese(tmp_path: Path) -> None:
    core = tmp_path / "ctrnet"
    core.mkdir()
    shutil.copy(CORE / "errors.py", core)
    (core / "mistake.py").write_text(
        "from ctrnet.errors import InvalidConfig, from_errno\n"
        "class Own(InvalidConfig):\n"
        "    def __init__(self, what: str) -> None:\n"
        "        super().__init__(f'{what} is bad', ja=f'{what} は誤りです')\n"
        "def english(s: str) -> None:\n"
        "    raise InvalidConfig(f'subnet {s} is bad')\n"
        "def english_errno() -> None:\n"
        "    raise from_errno(2, 'gone')\n"
        "def both() -> None:\n"
        "    raise InvalidConfig('x', ja='エックス')\n"
        "def worded_by_its_class() -> None:\n"
        "    raise Own('x')\n", encoding="utf-8")
    assert _english_only_errors(core) == {"ctrnet/mistake.py": 2}


# -- the CNI checks' reasons ---------------------------------------------------------------------
SUITE = ROOT / "conformance" / "cni"
#: The suite's calls that carry a learner-facing reason: both take the Japanese as `ja=`.
_REASONS = {"Blocked", "Finding"}
#: Calls that can only say English: not in a check (test_*.py), which raises Finding instead
#: (conftest.py's pytest.fail speaks to whoever runs the grade about --impl, not to a learner).
_ENGLISH_ONLY = {"fail", "AssertionError"}
#: Checks whose `assert cond, "English"` a learner still reads in English, and how many.
#: Translate one (`if not cond: raise Finding(en, ja=...)`) and lower its count here.
#: A bare `assert cond` (no message) is allowed: an internal invariant (e.g. narrowing a type
#: for mypy), not a verdict on the plugin; its failure is ctrnet's bug, not the learner's.
KNOWN_ENGLISH_ASSERTS: dict[str, int] = {}


def _english_reasons(suite: Path = SUITE) -> tuple[list[str], Counter[str]]:
    """Where the suite builds Blocked/Finding without `ja=`, or a check calls pytest.fail or
    raises a plain AssertionError (file:line), and per file the asserts that carry a message
    (English a Japanese report would show as it stands)."""
    missing: list[str] = []
    asserts: Counter[str] = Counter()
    for path in sorted(suite.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and _name(node.func) in _REASONS
                    and not any(k.arg == "ja" for k in node.keywords)):
                missing.append(f"{path.name}:{node.lineno}")
            if (isinstance(node, ast.Call) and _name(node.func) in _ENGLISH_ONLY
                    and path.name.startswith("test_")):
                missing.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Assert) and node.msg is not None:
                asserts[path.name] += 1
    return missing, asserts


def test_every_reason_of_the_cni_checks_has_a_japanese_wording() -> None:
    missing, asserts = _english_reasons()
    assert missing == [], f"Blocked/Finding without ja= (pass the Japanese wording): {missing}"
    new = {f: n for f, n in asserts.items() if n > KNOWN_ENGLISH_ASSERTS.get(f, 0)}
    assert not new, f"assert with an English message (raise Finding(en, ja=...)): {new}"
    assert dict(asserts) == KNOWN_ENGLISH_ASSERTS, "KNOWN_ENGLISH_ASSERTS is stale: lower it"


def test_the_cni_scan_sees_a_reason_without_its_japanese(tmp_path: Path) -> None:
    (tmp_path / "test_mistake.py").write_text(
        "from .network import Blocked, Finding\n"
        "def test_a(n: int) -> None:\n"
        "    assert n, f'c1: host end {n} is down'\n"
        "    assert isinstance(n, int)\n"
        "    if n > 1:\n"
        "        raise Blocked('veth', 'host end is down')\n"
        "    if n > 2:\n"
        "        raise Finding('no carrier', ja='キャリアがありません')\n"
        "    if n > 3:\n"
        "        pytest.fail('c6 got an address')\n"
        "    if n > 4:\n"
        "        raise AssertionError('blocked by bridge: no TCP')\n"
        "    raise Blocked('nat', 'no rule', ja='ルールがありません')\n", encoding="utf-8")
    assert _english_reasons(tmp_path) == (
        ["test_mistake.py:6", "test_mistake.py:10", "test_mistake.py:12"],
        {"test_mistake.py": 1})


def _help_values(tree: ast.Module) -> Iterator[tuple[int, ast.expr, ast.AST]]:
    """Each help=/description=/epilog= value with the innermost function it appears in."""
    def visit(node: ast.AST, func: ast.AST) -> Iterator[tuple[int, ast.expr, ast.AST]]:
        if isinstance(node, ast.FunctionDef):
            func = node
        if isinstance(node, ast.Call):
            for k in node.keywords:
                if k.arg in ("help", "description", "epilog"):
                    yield node.lineno, k.value, func
        for child in ast.iter_child_nodes(node):
            yield from visit(child, func)

    yield from visit(tree, tree)


def _is_say(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and _name(value.func) == "say"


def _said_in(func: ast.AST, name: str) -> bool:
    """`name` is bound in `func` to a say(...), or is one of its parameters (whose callers
    pass the text: the help pages' test reads what they pass)."""
    if isinstance(func, ast.FunctionDef) and name in {a.arg for a in func.args.args}:
        return True
    return any(isinstance(n, ast.Assign) and _is_say(n.value)
               and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)
               for n in ast.walk(func))


def test_every_help_text_of_the_core_is_said_in_both_languages() -> None:
    english = []
    for path in _core_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, value, func in _help_values(tree):
            if _is_say(value) or _name(value) == "SUPPRESS":
                continue
            if isinstance(value, ast.Name) and _said_in(func, value.id):
                continue
            english.append(f"{path.relative_to(ROOT)}:{line}")
    assert not english, f"help texts not written with say(en, ja): {english}"


# -- what the grader says by itself -------------------------------------------------------------
#: Calls that put text before a person: the grader's one-line refusals, print, a stream's write.
_SAYING = {"_fail", "print", "write"}
#: Two lowercase words in a row: even "checks done" is English a Japanese reader would get.
_TWO_WORDS = re.compile(r"\b[a-z]{2,}(?:[ ]+[a-z]{2,})+\b")


def _literal_text(node: ast.expr) -> str:
    """The text a literal argument writes as it stands in the source (an f-string's fixed
    parts, a concatenation's pieces); "" for anything computed, such as a say(...)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(_literal_text(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return f"{_literal_text(node.left)} {_literal_text(node.right)}"
    return ""


def _said_in_english(path: Path) -> list[str]:
    """Where `path` hands English written in place straight to _fail/print/write."""
    return [f"{path.name}:{node.lineno}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and _name(node.func) in _SAYING
            and any(_TWO_WORDS.search(_NOT_PROSE.sub(" ", _literal_text(arg)))
                    for arg in node.args)]


def test_the_grader_writes_no_english_of_its_own_to_a_person() -> None:
    """ctrnet grade's refusals, verdict lines and progress are said with say(en, ja) (or the
    class's own language), never as an English literal."""
    found = [hit for path in sorted((CORE / "grade").glob("*.py"))
             for hit in _said_in_english(path)]
    assert found == []


def test_the_grader_scan_sees_english_written_in_place(tmp_path: Path) -> None:
    (tmp_path / "mistake.py").write_text(
        "def f(n: int) -> None:\n"
        "    _fail('several formats need --output-dir DIR')\n"
        "    sys.stderr.write(f'ctrnet grade: {n} checks done\\n')\n"
        "    _fail(say('several formats need it', '複数の形式'))\n"
        "    print(f'ctrnet grade: {n} -> {n}')\n", encoding="utf-8")
    assert _said_in_english(tmp_path / "mistake.py") == ["mistake.py:2", "mistake.py:3"]


# -- the help pages ----------------------------------------------------------------------------
def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
              ) -> Iterator[tuple[str, ...]]:
    yield words
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*words, name))


#: Words of at least two lowercase letters, three or more in a row: an English sentence
#: (option names, metavars, {choices} and 'quoted values' are taken out first).
_ENGLISH = re.compile(r"\b[a-z]{2,}(?:[ ]+[a-z]{2,}){2,}\b")
_NOT_PROSE = re.compile(r"\bctrnet(?: [a-z]+)*|--?[\w-]+|\{[^}]*\}|'[^']*'|\"[^\"]*\""
                        r"|\b[A-Z][A-Z_.\[\]|:,/-]*\b")


def _english_lines(page: str) -> list[str]:
    body = page.split("\n\n", 1)[1] if "\n\n" in page else ""  # after the usage lines
    return [line for line in body.splitlines() if _ENGLISH.search(_NOT_PROSE.sub(" ", line))]


def _help_page(lang: str, words: tuple[str, ...]) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--lang", lang, *words, "--help"]) == 0
    return out.getvalue()


COMMANDS = list(_commands(build_parser()))


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "ctrnet")
def test_no_help_page_holds_an_english_sentence_under_lang_ja(words: tuple[str, ...]) -> None:
    page = _help_page("ja", words)
    assert page.startswith("使い方: ")
    assert _english_lines(page) == []


def test_the_help_heuristic_catches_english() -> None:
    pages = [_help_page("en", words) for words in COMMANDS]
    caught = [words for words, page in zip(COMMANDS, pages, strict=True)
              if _english_lines(page)]
    # Every English page with a help text of its own has a sentence the heuristic sees.
    assert len(caught) >= len(COMMANDS) - 2, [w for w in COMMANDS if w not in caught]


# -- real mistakes -----------------------------------------------------------------------------
LONG = "n" * 65

#: (arguments, exit status, the English line as it stays, a piece of the Japanese line).
MISTAKES = [
    (["network", "create", "web2", "--subnet", "10.0.0.0/33"], 1,
     "ctrnet: subnet: subnet '10.0.0.0/33' of network 'web2' is not a CIDR",
     "ctrnet: 設定の誤り: subnet: ネットワーク 'web2' のサブネット '10.0.0.0/33' は CIDR"),
    (["network", "create", "a/b", "--subnet", "10.1.0.0/24"], 2,
     "ctrnet network create: error: argument name: network name 'a/b' must not contain '/' "
     "(see ctrnet network create --help)",
     "ctrnet network create: エラー: 引数 name: ネットワーク名 'a/b' は '/' を含んでは"),
    (["network", "create", LONG, "--subnet", "10.1.0.0/24"], 2,
     f"ctrnet network create: error: argument name: network name '{LONG[:35]}…nn' is longer "
     "than 64 bytes (65) (see ctrnet network create --help)",
     "64 バイトを超えています（65 バイト）"),
    (["connect", "nosuch", "c9", "--create-netns"], 1,
     "ctrnet: network: network 'nosuch' does not exist",
     "ctrnet: 設定の誤り: network: ネットワーク 'nosuch' は存在しません"),
    (["network", "inspect", "nosuch"], 1,
     "ctrnet: network 'nosuch' does not exist (ENOENT: No such file or directory)",
     "ctrnet: 見つかりません: ネットワーク 'nosuch' は存在しません (ENOENT: "
     "そのようなファイルやディレクトリはありません)"),
    (["connect", "web", "c2", "-p", "8080:80", "--create-netns"], 1,
     "ctrnet: ports: host port 8080:80/tcp is published by web/c1 already",
     "ホストのポート 8080:80/tcp はすでに web/c1 が公開しています"),
    (["connect", "web", "nons"], 1,
     "ctrnet: container: namespace 'nons' does not exist",
     "名前空間 'nons' は存在しません"),
    (["network", "create", "web", "--subnet", "10.5.0.0/24"], 1,
     "ctrnet: name: network 'web' exists already",
     "ネットワーク 'web' はすでに存在します"),
    (["network", "create", "web3", "--subnet", "10.70.0.128/25"], 1,
     "ctrnet: subnet: 10.70.0.128/25 overlaps 10.70.0.0/24 of network 'web'",
     "10.70.0.128/25 はネットワーク 'web' の 10.70.0.0/24 と重なります"),
    (["connect", "web", "c3", "--egress", "10foo", "--create-netns"], 1,
     "ctrnet: rate '10foo': use e.g. 10mbit, 500kbit or a number of bit/s",
     "帯域 '10foo': 10mbit・500kbit"),
    (["network", "rm", "web"], 1,
     "ctrnet: network 'web' has connected containers: c1",
     "ネットワーク 'web' には接続されたコンテナがあります: c1"),
    (["trace", "--from", "nosuch", "--to", "10.70.0.1"], 1,
     "ctrnet: namespace 'nosuch' does not exist (ENOENT: No such file or directory)",
     "ctrnet: 見つかりません: 名前空間 'nosuch' は存在しません (ENOENT: "),
    (["trace", "--from", "c1", "--to", "c2"], 1,
     "ctrnet: bad IPv4 address 'c2' (EINVAL: Invalid argument)",
     "ctrnet: 引数の誤り: 'c2' は正しい IPv4 アドレスではありません (EINVAL: 無効な引数です)"),
    (["capture", "c1", "eth9"], 1,
     "ctrnet: device 'eth9' not found in namespace 'c1' (ENODEV: No such device)",
     "ctrnet: 見つかりません: 名前空間 'c1' にデバイス 'eth9' はありません (ENODEV: "
     "そのようなデバイスはありません)"),
    (["capture", "nosuch", "eth0"], 1,
     "ctrnet: namespace 'nosuch' does not exist (ENOENT: No such file or directory)",
     "ctrnet: 見つかりません: 名前空間 'nosuch' は存在しません (ENOENT: "),
    (["trace", "--from", "c1", "--to", "10.70.0.1:99999"], 1,
     "ctrnet: --to '10.70.0.1:99999': the port must be 1-65535",
     "ポートは 1-65535 です"),
]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A simulated world with network web (10.70.0.0/24) and c1 publishing 8080."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "CTRNET_BACKEND", "CTRNET_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    where = str(tmp_path / "state")
    assert main(["network", "create", "web", "--subnet", "10.70.0.0/24", "--backend", "sim",
                 "--state-dir", where]) == 0
    assert main(["connect", "web", "c1", "-p", "8080:80", "--create-netns", "--backend", "sim",
                 "--state-dir", where]) == 0
    return where


def _run(argv: list[str], state: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*argv, "--backend", "sim", "--state-dir", state])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


@pytest.mark.parametrize(("argv", "status", "english", "japanese"), MISTAKES,
                         ids=[" ".join(m[0])[:40] for m in MISTAKES])
def test_a_mistake_is_one_japanese_line_and_the_english_line_is_unchanged(
        argv: list[str], status: int, english: str, japanese: str, state: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(["--lang", "en", *argv], state, capsys) == (status, english + "\n")
    for how in ("--lang", "LANG"):
        if how == "LANG":
            monkeypatch.setenv("LANG", "ja_JP.UTF-8")
            words = argv
        else:
            words = ["--lang", "ja", *argv]
        code, err = _run(words, state, capsys)
        assert code == status
        assert err.count("\n") == 1 and japanese in err, err
        assert not _ENGLISH.search(_NOT_PROSE.sub(" ", err)), err
        monkeypatch.delenv("LANG", raising=False)


def test_the_installed_command_speaks_the_locales_language(state: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "CTRNET"))}
    env["LANG"] = "ja_JP.UTF-8"
    done = subprocess.run([sys.executable, "-m", "ctrnet.cli", "network", "create", "web",
                           "--subnet", "10.5.0.0/24", "--backend", "sim", "--state-dir", state],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr == ("ctrnet: 設定の誤り: name: ネットワーク 'web' はすでに存在します\n")


# -- the error type ----------------------------------------------------------------------------
def test_an_error_is_english_as_a_string_and_japanese_when_asked() -> None:
    exc = from_errno(errno.EEXIST, "link 'br0' exists", ja="リンク 'br0' はすでにあります")
    assert str(exc) == "link 'br0' exists (EEXIST: File exists)"
    assert exc.in_lang("ja") == "リンク 'br0' はすでにあります (EEXIST: ファイルが存在します)"
    i18n.set_lang("ja")
    assert exc.said() == exc.in_lang("ja") and str(exc) == "link 'br0' exists (EEXIST: File exists)"


def test_an_error_without_a_japanese_wording_says_its_english() -> None:
    assert InvalidConfig("plain").in_lang("ja") == "plain"
