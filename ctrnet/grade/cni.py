"""Running a CNI plugin as a container runtime does, and judging what it says back.

`NetworkConfig` is the bridge-style network configuration the grader hands every plugin
(CNI 1.0: `cniVersion`, `name`, `type`, `bridge`, `isGateway`, `ipMasq`, host-local `ipam`).
`Plugin` runs ADD / CHECK / DEL with the standard `CNI_*` environment through a `Launcher`
(which places the process in the world's host namespace, see `ctrnet.grade.launch`), with a
timeout per call. `parse_result` checks stdout against the CNI 1.0 result format; an error
result (`code`, `msg`, `details`) or a crash becomes a `PluginFailed` with a one-line reason,
worded in English and Japanese (`str()` is the English one, `in_lang("ja")` the Japanese one;
what the plugin printed is quoted verbatim in both).
Spec: https://github.com/containernetworking/cni/blob/main/SPEC.md (sections 5 and 6).
"""

from __future__ import annotations

import json
import os
import re
import signal
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address, ip_interface, ip_network
from typing import Any

from ctrnet.errors import CtrnetError
from ctrnet.grade.launcher import Launcher

CNI_VERSION = "1.0.0"
#: Keys of the network config the checks depend on: `--conf` cannot override them.
GRADER_KEYS = frozenset({"cniVersion", "name", "bridge", "isGateway", "ipMasq", "ipam",
                         "prevResult"})
#: A plugin call taking longer than this is killed and reported as hanging.
DEFAULT_TIMEOUT = 10.0


class PluginFailed(CtrnetError):
    """A plugin call did not succeed: error result, crash, timeout or garbage on stdout."""


class ResultInvalid(PluginFailed):
    """ADD succeeded but its result breaks the CNI 1.0 result format."""


@dataclass(frozen=True)
class NetworkConfig:
    """The network configuration given on stdin, as both CNI's reference plugins and a
    learner's own IPAM can read it."""

    name: str
    plugin_type: str
    bridge: str
    subnet: str
    gateway: str
    data_dir: str
    is_gateway: bool = True
    ip_masq: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, prev_result: dict[str, Any] | None = None) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "cniVersion": CNI_VERSION,
            "name": self.name,
            "type": self.plugin_type,
            "bridge": self.bridge,
            "isGateway": self.is_gateway,
            "ipMasq": self.ip_masq,
            "ipam": {
                "type": "host-local",
                "subnet": self.subnet,
                "gateway": self.gateway,
                "dataDir": self.data_dir,
                "routes": [{"dst": "0.0.0.0/0"}],
            },
            **{k: v for k, v in self.extra.items() if k not in GRADER_KEYS},
        }
        if prev_result is not None:
            conf["prevResult"] = prev_result
        return conf


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str | None
    sandbox: str | None  # the netns path for interfaces inside the container


@dataclass(frozen=True)
class IpConfig:
    address: IPv4Interface
    gateway: IPv4Address | None
    interface: int | None  # index into the result's interfaces


@dataclass(frozen=True)
class CniResult:
    """A valid ADD result; `raw` is what the plugin printed, to hand back as prevResult."""

    interfaces: tuple[Interface, ...]
    ips: tuple[IpConfig, ...]
    routes: tuple[tuple[IPv4Network, IPv4Address | None], ...]
    raw: dict[str, Any]
    #: What breaks the CNI 1.0 result format (empty for a valid result; see `parse_result`).
    problems: tuple[str, ...] = ()
    #: The same problems in Japanese, in the same order.
    problems_ja: tuple[str, ...] = ()

    def problems_in(self, lang: str) -> tuple[str, ...]:
        """`problems` in `lang` ("ja" or "en")."""
        return self.problems_ja if lang == "ja" else self.problems

    def container_ip(self, ifname: str) -> IpConfig | None:
        """The first IPv4 config on the container interface `ifname` (or with no interface)."""
        for ip in self.ips:
            if ip.interface is None or ip.interface >= len(self.interfaces):
                return ip
            if self.interfaces[ip.interface].name == ifname and self.interfaces[
                ip.interface
            ].sandbox:
                return ip
        return self.ips[0] if self.ips else None


@dataclass(frozen=True)
class ErrorResult:
    code: int
    msg: str
    details: str = ""

    def __str__(self) -> str:
        return self.in_lang("en")

    def in_lang(self, lang: str) -> str:
        """The error as the plugin gave it (its msg and details verbatim), in ctrnet's words
        of `lang` around them."""
        text = f"{'エラー' if lang == 'ja' else 'error'} {self.code}: {self.msg}"
        if not self.details or self.details == self.msg:
            return text
        return f"{text}（{self.details}）" if lang == "ja" else f"{text} ({self.details})"


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_result(stdout: str, *, expect_version: str = CNI_VERSION,
                 strict: bool = True) -> CniResult:
    """Check an ADD result against the CNI 1.0 result format. Strict, ResultInvalid lists
    what is wrong, all of it, in one line; lenient (`strict=False`), the result comes back
    with what could be read and its `problems` listed: the grader judges the network the
    plugin built, and reports the result's format on its own (a CNI convention the guide
    does not teach). Each problem is worded in English and in Japanese."""
    problems: list[tuple[str, str]] = []

    def bad(en: str, ja: str) -> None:
        problems.append((en, ja))

    try:
        data = json.loads(stdout)
    except ValueError:
        bad(f"result is not JSON: {_short(stdout) or 'empty output'!r}",
            f"結果が JSON ではありません: {_short(stdout) or '出力が空'!r}")
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        bad(f"result is a JSON {kind}, not an object",
            f"結果が JSON のオブジェクトではなく {kind} です")
        data = {}
    if problems:
        if strict:
            raise ResultInvalid(problems[0][0], ja=problems[0][1])
        return CniResult((), (), (), {}, *_split(problems))
    if data.get("cniVersion") != expect_version:
        bad(f"cniVersion is {data.get('cniVersion')!r}, expected {expect_version!r}",
            f"cniVersion が {data.get('cniVersion')!r} です（{expect_version!r} のはず）")
    interfaces: list[Interface] = []
    raw_ifaces = data.get("interfaces", [])
    if not isinstance(raw_ifaces, list):
        bad("interfaces is not a list", "interfaces がリストではありません")
        raw_ifaces = []
    for n, iface in enumerate(raw_ifaces):
        if not isinstance(iface, dict) or not isinstance(iface.get("name"), str):
            bad(f"interfaces[{n}] has no name", f"interfaces[{n}] に name がありません")
            continue
        interfaces.append(Interface(iface["name"], iface.get("mac"), iface.get("sandbox")))
    ips: list[IpConfig] = []
    raw_ips = data.get("ips", [])
    if not isinstance(raw_ips, list):
        bad("ips is not a list", "ips がリストではありません")
        raw_ips = []
    for n, ip in enumerate(raw_ips):
        if not isinstance(ip, dict):
            bad(f"ips[{n}] is not an object", f"ips[{n}] がオブジェクトではありません")
            continue
        try:
            address = ip_interface(ip.get("address", ""))
        except ValueError:
            bad(f"ips[{n}].address {ip.get('address')!r} is not an address/prefix",
                f"ips[{n}].address {ip.get('address')!r} は「アドレス/プレフィックス長」"
                "ではありません")
            continue
        if "/" not in str(ip.get("address")):
            bad(f"ips[{n}].address {ip.get('address')!r} lacks its prefix length",
                f"ips[{n}].address {ip.get('address')!r} にプレフィックス長がありません")
        gateway = None
        if ip.get("gateway") is not None:
            try:
                gateway = ip_address(ip["gateway"])
            except ValueError:
                bad(f"ips[{n}].gateway {ip['gateway']!r} is not an address",
                    f"ips[{n}].gateway {ip['gateway']!r} はアドレスではありません")
        index = ip.get("interface")
        if index is not None and (
            not isinstance(index, int) or not 0 <= index < len(raw_ifaces)
        ):
            bad(f"ips[{n}].interface {index!r} is not an index into interfaces",
                f"ips[{n}].interface {index!r} は interfaces の添字ではありません")
            index = None
        if isinstance(address, IPv4Interface):
            ips.append(IpConfig(address, gateway if isinstance(gateway, IPv4Address) else None,
                                index))
    if not ips and not problems:
        bad("ips is empty: the result gives the container no address",
            "ips が空です: 結果がコンテナにアドレスを与えていません")
    routes: list[tuple[IPv4Network, IPv4Address | None]] = []
    raw_routes = data.get("routes", []) or []
    if not isinstance(raw_routes, list):
        bad("routes is not a list", "routes がリストではありません")
        raw_routes = []
    for n, route in enumerate(raw_routes):
        try:
            dst = ip_network(route["dst"], strict=False)
            gw = ip_address(route["gw"]) if route.get("gw") else None
        except (KeyError, TypeError, ValueError):
            bad(f"routes[{n}] is not {{dst, gw}}: {route!r}",
                f"routes[{n}] が {{dst, gw}} ではありません: {route!r}")
            continue
        if isinstance(dst, IPv4Network):
            routes.append((dst, gw if isinstance(gw, IPv4Address) else None))
    if "dns" in data and not isinstance(data["dns"], dict):
        bad("dns is not an object", "dns がオブジェクトではありません")
    if problems and strict:
        en, ja = _split(problems)
        raise ResultInvalid("invalid CNI result: " + "; ".join(en),
                            ja="CNI の結果の形式が誤っています: " + "; ".join(ja))
    return CniResult(tuple(interfaces), tuple(ips), tuple(routes), data, *_split(problems))


def _split(problems: list[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(English problems, Japanese problems)."""
    return tuple(en for en, _ in problems), tuple(ja for _, ja in problems)


def parse_error(stdout: str) -> ErrorResult | None:
    """The error result a failing plugin printed, or None when it printed none."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(data, dict) or "code" not in data:
        return None
    return ErrorResult(int(data.get("code") or 0), str(data.get("msg", "")),
                       str(data.get("details", "")))


#: What a call's reason says when the plugin could not even start on this machine (a missing
#: interpreter module or program): grading it says "could not run", not 0/6. (The grade
#: finds it in the English reason; the Japanese one says "起動できません".)
CANNOT_START = "cannot start: "
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_NOT_FOUND = re.compile(r"^(?:.*?: )?(?:line \d+: |\d+: )?([\w./+-]+): (?:command )?not found$",
                        re.MULTILINE)


def cannot_start(returncode: int, stderr: str, lang: str = "en") -> str | None:
    """Why the plugin could not start here, or None: a Python module its interpreter lacks
    (the traceback's last line, or a plugin's own one-line message naming it), a program
    the shell could not find (exit 127), a bad `#!` line. In `lang` ("ja" or "en")."""
    if returncode == 0:
        return None
    ja = lang == "ja"
    module = _NO_MODULE.search(stderr)
    if module is not None:
        name = module.group(1).split(".")[0]
        if ja:
            return (f"その Python にモジュール {name!r} がありません（プラグインの #! 行の"
                    f"インタプリタに入れる: python3 -m pip install {name}）")
        return (f"its Python has no module {name!r} (install it for the interpreter of the "
                f"plugin's #! line: python3 -m pip install {name})")
    if returncode == 127:
        found = _NOT_FOUND.search(stderr)
        if found is not None:
            if ja:
                return f"{found.group(1)!r} を実行しますが、ここにはインストールされていません"
            return f"it runs {found.group(1)!r}, which is not installed here"
    if "bad interpreter" in stderr or returncode == 126:  # 126: found, but cannot execute
        return _short(_last_words(stderr)) or (
            "ここでは実行できません" if ja else "it cannot be executed here")
    return None


def _last_words(text: str) -> str:
    """What a crash said last: the exception line of a Python traceback, else all of it."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return text


# -- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One finished plugin call."""

    command: str
    container_id: str
    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    #: What the call did that a plugin must not (see `ctrnet.grade.sandbox`): a failure
    #: whatever the plugin answered.
    violations: tuple[str, ...] = ()
    #: `violations` in Japanese, in the same order.
    violations_ja: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.violations

    def reason(self, timeout: float, lang: str = "en") -> str:
        """One line saying why the call failed, in `lang` ("ja" or "en"); what the plugin
        printed is quoted as it printed it."""
        if lang == "ja":
            return self._reason_ja(timeout)
        what = f"{self.command} for {self.container_id}"
        if self.violations:
            return f"{what} {'; '.join(self.violations)}"
        if self.timed_out:
            return f"{what} hung: killed after {timeout:g} s"
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"{what} crashed: killed by {name}"
        missing = cannot_start(self.returncode, self.stderr)
        if missing is not None:
            return f"{what} {CANNOT_START}{missing}"
        error = parse_error(self.stdout)
        if error is not None:
            return f"{what} failed with {error}"
        said = _short(_last_words(self.stderr) or self.stdout) or "no output"
        return f"{what} exited {self.returncode} without a CNI error result: {said!r}"

    def _reason_ja(self, timeout: float) -> str:
        what = f"{self.container_id} の {self.command}"
        if self.violations:  # the sandbox's findings (ctrnet.grade.sandbox)
            clauses = self.violations_ja if len(self.violations_ja) == len(self.violations) \
                else self.violations
            return f"{what}: {'; '.join(clauses)}"
        if self.timed_out:
            return f"{what} が応答しません: {timeout:g} 秒で強制終了しました"
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"{what} がクラッシュしました: {name} で強制終了"
        missing = cannot_start(self.returncode, self.stderr, "ja")
        if missing is not None:
            return f"{what} を起動できません: {missing}"
        error = parse_error(self.stdout)
        if error is not None:
            return f"{what} が失敗しました: {error.in_lang('ja')}"
        said = _short(_last_words(self.stderr) or self.stdout) or "出力なし"
        return (f"{what} が CNI のエラー結果を出さずに終了コード {self.returncode} で"
                f"終了しました: {said!r}")

    def failure(self, timeout: float) -> PluginFailed:
        """The error saying why the call failed, in both languages."""
        return PluginFailed(self.reason(timeout), ja=self.reason(timeout, "ja"))


@dataclass
class Plugin:
    """A CNI plugin executable and how to run it; every call is recorded in `calls`."""

    path: str
    config: NetworkConfig
    launcher: Launcher
    cni_path: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    #: More environment for every call (e.g. the world socket of `ctrnet-cni`).
    env: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def invoke(self, command: str, container_id: str, ns: str | None, ifname: str,
               prev_result: dict[str, Any] | None = None, *, netns_path: str | None = None,
               ) -> Call:
        """Run one command; `netns_path` overrides the path of `ns` (e.g. a gone namespace)."""
        path = netns_path if netns_path is not None else (
            self.launcher.netns_path(ns) if ns is not None else "")
        search = [os.path.dirname(os.path.abspath(self.path)), *self.cni_path]
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": container_id,
            "CNI_NETNS": path,
            "CNI_IFNAME": ifname,
            "CNI_PATH": ":".join(dict.fromkeys(search)),
            "LC_ALL": "C",
            "HOME": os.environ.get("HOME", "/root"),
            **self.env,
        }
        stdin = json.dumps(self.config.as_dict(prev_result))
        done = self.launcher.run(self.path, stdin=stdin, env=env, timeout=self.timeout,
                                 data_dir=self.config.data_dir)
        call = Call(command, container_id, done.returncode, done.stdout, done.stderr,
                    done.duration, done.timed_out, done.violations, done.violations_ja)
        self.calls.append(call)
        return call

    def add(self, container_id: str, ns: str, ifname: str = "eth0", *,
            strict: bool = True) -> CniResult:
        """ADD; PluginFailed when it fails. Strict, a result that breaks the CNI 1.0 format
        is a failure too (ResultInvalid); lenient, it comes back with its `problems`."""
        call = self.invoke("ADD", container_id, ns, ifname)
        if not call.ok:
            raise call.failure(self.timeout)
        try:
            return parse_result(call.stdout, strict=strict)
        except ResultInvalid as exc:
            raise ResultInvalid(f"ADD for {container_id}: {exc}",
                                ja=f"{container_id} の ADD: {exc.in_lang('ja')}") from None

    def check(self, container_id: str, ns: str, result: CniResult, ifname: str = "eth0") -> None:
        call = self.invoke("CHECK", container_id, ns, ifname, result.raw)
        if not call.ok:
            raise call.failure(self.timeout)

    def delete(self, container_id: str, ns: str | None, ifname: str = "eth0",
               result: CniResult | None = None, *, netns_path: str | None = None) -> None:
        call = self.invoke("DEL", container_id, ns, ifname,
                           result.raw if result is not None else None, netns_path=netns_path)
        if not call.ok:
            raise call.failure(self.timeout)

