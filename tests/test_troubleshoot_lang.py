"""One language switch for every command's human output: `--lang ja|en` (before or after the
command), else LC_ALL, LC_MESSAGES, LANG in POSIX order; `grade` follows the same switch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ctrnet import i18n
from ctrnet.backend import Backend
from ctrnet.cli import main
from ctrnet.cli_network import injected


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    yield
    i18n.set_lang("en")


@pytest.mark.parametrize(("env", "lang"), [
    ({}, "en"),
    ({"LANG": "ja_JP.UTF-8"}, "ja"),
    ({"LANG": "ja_JP.UTF-8", "LC_MESSAGES": "C"}, "en"),
    ({"LANG": "C", "LC_MESSAGES": "ja_JP.UTF-8"}, "ja"),
    ({"LC_MESSAGES": "ja_JP.UTF-8", "LC_ALL": "en_US.UTF-8"}, "en"),
    ({"LC_ALL": "", "LANG": "ja_JP"}, "ja"),  # an empty variable does not count
])
def test_the_locale_variables_decide_in_posix_order(env: dict[str, str], lang: str) -> None:
    assert i18n.detect(env) == lang


def test_lang_is_found_anywhere_before_the_separator() -> None:
    assert i18n.from_argv(["doctor", "--lang", "ja"]) == "ja"
    assert i18n.from_argv(["--lang=en", "doctor"]) == "en"
    assert i18n.from_argv(["sim", "exec", "--", "prog", "--lang", "ja"]) is None


@pytest.fixture
def world(backend: Backend, tmp_path_factory: pytest.TempPathFactory,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    state = str(tmp_path_factory.mktemp("state"))
    monkeypatch.setenv("CTRNET_STATE_DIR", state)  # every command of the test keeps it here
    with injected(backend):
        assert main(["network", "create", "web", "--subnet", "10.72.0.0/24",
                     "--state-dir", state, "--backend", backend.name]) == 0
        assert main(["connect", "web", "c1", "--create-netns", "--state-dir", state,
                     "--backend", backend.name]) == 0
        backend.sysctl_set(backend.host_ns, "net.ipv4.ip_forward", "0")
        yield backend


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_doctor_speaks_japanese_when_asked(world: Backend, where: str,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["doctor", "--backend", world.name]
    if where == "before":
        argv = ["--lang", "ja", *argv]
    elif where == "after":
        argv += ["--lang", "ja"]
    else:
        monkeypatch.delenv("LC_ALL", raising=False)
        monkeypatch.delenv("LC_MESSAGES", raising=False)
        monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    capsys.readouterr()
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "問題 1 件" in out and "net.ipv4.ip_forward が 0" in out and "対処: " in out


def test_english_is_the_default(world: Backend, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    capsys.readouterr()
    assert main(["doctor", "--backend", world.name]) == 1
    assert "1 problem(s)" in capsys.readouterr().out


def test_a_users_mistake_is_one_japanese_line(capsys: pytest.CaptureFixture[str],
                                              backend: Backend) -> None:
    with injected(backend):
        assert main(["--lang", "ja", "trace", "--from", "nosuch", "--to", "10.0.0.1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ctrnet: 見つかりません: ")


def test_trace_follows_the_switch(world: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["--lang", "ja", "trace", "--from", "c1", "--to", "10.72.0.1",
                 "--backend", world.name]) == 0
    out = capsys.readouterr().out
    assert out.startswith("trace icmp c1 から 10.72.0.1 へ: 応答あり") and "-- 返信" in out


def test_grade_follows_the_same_switch() -> None:
    from ctrnet.cli import build_parser

    args = build_parser().parse_args(["--lang", "ja", "grade"])
    assert args.lang == "ja"
    args = build_parser().parse_args(["grade", "--lang", "en"])
    assert args.lang == "en"
    args = build_parser().parse_args(["grade"])
    assert args.lang is None  # then the locale decides, as for every command


def test_help_and_usage_errors_follow_the_switch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lang", "ja", "doctor", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("使い方: ctrnet doctor") and "オプション:" in out
    assert "ネットワーク・ブリッジ・コンテナ" in out
    assert main(["doctor", "--no-such-option", "--lang", "ja"]) == 2
    assert "エラー: 認識できない引数です: --no-such-option" in capsys.readouterr().err
    assert main(["--lang", "en", "doctor", "--no-such-option"]) == 2
    assert "error: unrecognized arguments: --no-such-option" in capsys.readouterr().err
