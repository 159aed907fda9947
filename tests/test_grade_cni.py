"""Running CNI plugins and judging their answers: the environment and stdin a plugin gets,
the CNI 1.0 result format, error results, and plugins that hang, crash or print garbage."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ctrnet.grade.cni import (
    CANNOT_START,
    NetworkConfig,
    Plugin,
    PluginFailed,
    ResultInvalid,
    parse_error,
    parse_result,
)
from ctrnet.grade.launch import ToolRun, read_log
from ctrnet.grade.runner import Request, _one_line, grade
from ctrnet.grade.sandbox import Finished, Sandbox
from ctrnet.registry import entry

GOOD = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "veth1"}, {"name": "eth0", "mac": "02:00:00:00:00:01",
                                       "sandbox": "/run/netns/c1"}],
    "ips": [{"address": "172.20.0.2/24", "gateway": "172.20.0.1", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "172.20.0.1"}],
    "dns": {},
}


class DirectLauncher:
    """Runs the plugin as it is, in this namespace (limits only): enough to test the
    contract."""

    def __init__(self, workdir: Path) -> None:
        self.sandbox = Sandbox(workdir, contain=False)

    def run(self, plugin: str, *, stdin: str, env: dict[str, str], timeout: float,
            data_dir: str) -> Finished:
        self.sandbox.grant(data_dir)
        return self.sandbox.run(plugin, stdin=stdin, timeout=timeout,
                                env={**env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})

    def netns_path(self, ns: str) -> str:
        return f"/var/run/netns/{ns}"

    def tool_runs(self) -> list[ToolRun]:
        return []

    def close(self) -> None:
        pass


def _plugin(tmp_path: Path, body: str, *, timeout: float = 5.0, **extra: object) -> Plugin:
    path = tmp_path / "my-plugin"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    config = NetworkConfig("net1", "my-plugin", "cni0", "172.20.0.0/24", "172.20.0.1",
                           str(tmp_path / "ipam"), extra=dict(extra))
    return Plugin(str(path), config, DirectLauncher(tmp_path), ("/usr/lib/cni",), timeout)


def _good_plugin(tmp_path: Path) -> Plugin:
    (tmp_path / "result.json").write_text(json.dumps(GOOD))
    return _plugin(tmp_path, f"""\
        env | grep ^CNI_ > {tmp_path}/env.$CNI_COMMAND
        cat > {tmp_path}/stdin.$CNI_COMMAND
        [ "$CNI_COMMAND" = ADD ] && cat {tmp_path}/result.json
        exit 0
        """)


def test_plugin_gets_the_cni_environment_and_the_config_on_stdin(tmp_path: Path) -> None:
    plugin = _good_plugin(tmp_path)
    plugin.add("c1", "c1", "eth0")
    env = dict(line.split("=", 1) for line in (tmp_path / "env.ADD").read_text().split("\n")
               if line)
    assert env["CNI_COMMAND"] == "ADD" and env["CNI_CONTAINERID"] == "c1"
    assert env["CNI_NETNS"] == "/var/run/netns/c1" and env["CNI_IFNAME"] == "eth0"
    assert env["CNI_PATH"].split(":") == [str(tmp_path), "/usr/lib/cni"]
    conf = json.loads((tmp_path / "stdin.ADD").read_text())
    assert conf["cniVersion"] == "1.0.0" and conf["type"] == "my-plugin"
    assert conf["bridge"] == "cni0" and conf["isGateway"] is True and conf["ipMasq"] is True
    assert conf["ipam"] == {"type": "host-local", "subnet": "172.20.0.0/24",
                            "gateway": "172.20.0.1", "dataDir": str(tmp_path / "ipam"),
                            "routes": [{"dst": "0.0.0.0/0"}]}
    assert "prevResult" not in conf


def test_check_and_del_get_the_add_result_as_prev_result(tmp_path: Path) -> None:
    plugin = _good_plugin(tmp_path)
    result = plugin.add("c1", "c1")
    plugin.check("c1", "c1", result)
    plugin.delete("c1", "c1", result=result)
    for command in ("CHECK", "DEL"):
        assert json.loads((tmp_path / f"stdin.{command}").read_text())["prevResult"] == GOOD


def test_del_of_a_gone_namespace_passes_the_path_it_is_given(tmp_path: Path) -> None:
    plugin = _good_plugin(tmp_path)
    plugin.delete("c1", None, netns_path="")
    assert "CNI_NETNS=\n" in (tmp_path / "env.DEL").read_text()


def test_conf_extra_keys_reach_the_plugin_but_never_replace_the_graders(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, f"cat > {tmp_path}/stdin; echo '{json.dumps(GOOD)}'",
                     mtu=1400, bridge="evil0", ipam={"type": "mine"})
    plugin.add("c1", "c1")
    conf = json.loads((tmp_path / "stdin").read_text())
    assert conf["mtu"] == 1400
    assert conf["bridge"] == "cni0" and conf["ipam"]["type"] == "host-local"


def test_valid_result_is_read_into_interfaces_ips_and_routes() -> None:
    result = parse_result(json.dumps(GOOD))
    config = result.container_ip("eth0")
    assert config is not None and str(config.address) == "172.20.0.2/24"
    assert str(config.gateway) == "172.20.0.1"
    assert result.interfaces[1].sandbox == "/run/netns/c1"
    assert [(str(dst), str(gw)) for dst, gw in result.routes] == [("0.0.0.0/0", "172.20.0.1")]


@pytest.mark.parametrize(("change", "complaint"), [
    ({"cniVersion": "0.4.0"}, "cniVersion is '0.4.0', expected '1.0.0'"),
    ({"ips": [{"address": "172.20.0.2"}]}, "lacks its prefix length"),
    ({"ips": [{"address": "172.20.0.300/24"}]}, "is not an address/prefix"),
    ({"ips": [{"address": "172.20.0.2/24", "interface": 5}]}, "not an index into interfaces"),
    ({"ips": []}, "ips is empty"),
    ({"routes": [{"gw": "172.20.0.1"}]}, "routes[0] is not {dst, gw}"),
    ({"interfaces": [{"mac": "02:00:00:00:00:01"}]}, "interfaces[0] has no name"),
])
def test_result_breaking_the_cni_1_0_format_is_refused_saying_why(
        change: dict[str, object], complaint: str) -> None:
    with pytest.raises(ResultInvalid, match=None) as caught:
        parse_result(json.dumps({**GOOD, **change}))
    assert complaint in str(caught.value)


def test_result_that_is_not_json_is_refused_quoting_it() -> None:
    with pytest.raises(ResultInvalid, match="result is not JSON: 'bridge created ok'"):
        parse_result("bridge created ok\n")


def test_error_result_becomes_a_failure_with_code_and_message(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, """\
        echo '{"cniVersion":"1.0.0","code":11,"msg":"no addresses left","details":"pool /29"}'
        exit 1
        """)
    with pytest.raises(PluginFailed) as caught:
        plugin.add("c6", "c6")
    assert str(caught.value) == (
        "ADD for c6 failed with error 11: no addresses left (pool /29)")
    error = parse_error(plugin.calls[-1].stdout)
    assert error is not None and error.code == 11


def test_failure_without_an_error_result_quotes_stderr(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "echo 'RTNETLINK answers: File exists' >&2; exit 2\n")
    with pytest.raises(PluginFailed, match="ADD for c1 exited 2 without a CNI error result: "
                                           "'RTNETLINK answers: File exists'"):
        plugin.add("c1", "c1")


def test_add_that_succeeds_with_garbage_is_an_invalid_result(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "echo done\n")
    with pytest.raises(ResultInvalid, match="ADD for c1: result is not JSON: 'done'"):
        plugin.add("c1", "c1")


def test_hanging_plugin_is_killed_with_its_children(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, f"sleep 60 & echo $! > {tmp_path}/child; wait\n", timeout=2.0)
    with pytest.raises(PluginFailed, match=r"ADD for c1 hung: killed after 2 s"):
        plugin.add("c1", "c1")
    child = int((tmp_path / "child").read_text())
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(
        f"/proc/{child}/stat").read_text().split()[2]


def test_crashing_plugin_is_reported_with_its_signal(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "kill -SEGV $$\n")
    with pytest.raises(PluginFailed, match="ADD for c1 crashed: killed by SIGSEGV"):
        plugin.add("c1", "c1")


def test_tool_log_is_read_back_per_line(tmp_path: Path) -> None:
    log = tmp_path / "tools.log"
    log.write_text("ip link add br0 type bridge\niptables -t nat -A POSTROUTING\n\n")
    assert [str(run) for run in read_log(log)] == [
        "ip link add br0 type bridge", "iptables -t nat -A POSTROUTING"]
    assert read_log(tmp_path / "missing") == []


@pytest.mark.parametrize(("raw", "line"), [
    ("AssertionError: container c2 got 172.20.0.2, already held by c1\nassert False",
     "container c2 got 172.20.0.2, already held by c1"),
    ("ctrnet.grade.cni.PluginFailed: ADD for c1 hung: killed after 10 s",
     "ADD for c1 hung: killed after 10 s"),
    ("Failed: plugin is not executable", "plugin is not executable"),
    ("ctrnet.errors.Unreachable: ping 203.0.113.254 from namespace c1: unreachable",
     "ping 203.0.113.254 from namespace c1: unreachable"),
    ("c1: eth0 is down", "c1: eth0 is down"),
    ("DEL for c1 failed: x", "DEL for c1 failed: x"),
])
def test_failure_reasons_are_one_line_without_the_exception_name(raw: str, line: str) -> None:
    assert _one_line(raw) == line


def test_grading_a_missing_plugin_cannot_run(tmp_path: Path) -> None:
    result = grade(Request(impl=f"cni:{tmp_path}/nope", backend="sim"))
    assert result.exit_status == 2 and result.error is not None
    assert "does not exist" in result.error


def test_grading_a_plugin_that_is_not_executable_says_chmod(tmp_path: Path) -> None:
    path = tmp_path / "plugin"
    path.write_text("#!/bin/sh\n")
    result = grade(Request(impl=f"cni:{path}", backend="sim"))
    assert result.exit_status == 2 and "chmod +x" in str(result.error)


def test_a_netlink_plugin_on_the_simulator_gets_a_note_pointing_to_the_kernel(
        tmp_path: Path) -> None:
    from ctrnet.grade.runner import preflight

    path = tmp_path / "plugin"
    path.write_text("#!/usr/bin/env python3\nfrom pyroute2 import IPRoute\n")
    path.chmod(0o755)
    notes = preflight(Request(impl=f"cni:{path}", backend="sim"))
    assert len(notes) == 1 and "--backend kernel" in notes[0]
    if entry("kernel").unavailable() is None:
        assert preflight(Request(impl=f"cni:{path}", backend="kernel")) == []


def test_a_lenient_read_keeps_the_result_and_lists_what_breaks_the_format() -> None:
    result = parse_result(json.dumps({**GOOD, "ips": []}), strict=False)
    assert result.problems == ("ips is empty: the result gives the container no address",)
    assert [i.name for i in result.interfaces] == ["veth1", "eth0"]
    garbage = parse_result("bridge created ok\n", strict=False)
    assert garbage.problems == ("result is not JSON: 'bridge created ok'",) and garbage.raw == {}


def test_add_read_leniently_returns_a_result_without_ips(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(json.dumps({**GOOD, "ips": []}))
    plugin = _plugin(tmp_path, f"cat {tmp_path}/result.json\n")
    assert plugin.add("c1", "c1", strict=False).problems
    with pytest.raises(ResultInvalid, match="ips is empty"):
        plugin.add("c1", "c1")


@pytest.mark.parametrize(("status", "stderr", "words"), [
    (1, "Traceback (most recent call last):\n  File \"p\", line 3, in <module>\n"
        "ModuleNotFoundError: No module named 'pyroute2'\n", "no module 'pyroute2'"),
    (127, "/p/bridge-sh: 37: jq: not found\n", "it runs 'jq', which is not installed here"),
    (126, "/p/wrapper: 3: exec: /root/venv/bin/python: Permission denied\n", "Permission denied"),
])
def test_a_plugin_that_cannot_start_here_says_what_is_missing(
        tmp_path: Path, status: int, stderr: str, words: str) -> None:
    (tmp_path / "stderr").write_text(stderr)
    plugin = _plugin(tmp_path, f"cat {tmp_path}/stderr >&2; exit {status}\n")
    with pytest.raises(PluginFailed) as caught:
        plugin.add("c1", "c1")
    assert f"ADD for c1 {CANNOT_START}" in str(caught.value) and words in str(caught.value)


def test_a_plugin_error_is_not_mistaken_for_one_that_cannot_start(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "echo 'Cannot find device \"eth0\"' >&2; exit 1\n")
    with pytest.raises(PluginFailed) as caught:
        plugin.add("c1", "c1")
    assert CANNOT_START not in str(caught.value)


def test_a_crash_quotes_the_last_line_of_its_traceback(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "printf 'Traceback (most recent call last):\\n  File x\\n"
                               "KeyError: subnet\\n' >&2; exit 1\n")
    with pytest.raises(PluginFailed, match="'KeyError: subnet'"):
        plugin.add("c1", "c1")
