"""Connect / disconnect latency of the reference model on the real kernel, and the CNI
reference bridge plugin's ADD for comparison.

    sudo python benchmarks/connect_latency.py --n 100    # targets: median connect <= 8 ms,
                                                          # and <= 1/3 of the CNI bridge ADD

One network (bridge, masquerade, anti-spoofing on: the defaults), N container namespaces
made beforehand, then N connects and N disconnects, each timed. When /usr/lib/cni/bridge
exists (Debian's containernetworking-plugins), the same N containers get an ADD of the
bridge plugin (host-local IPAM, ipMasq, isGateway) in a second world. Everything lives in
sandbox namespaces and a temporary directory, removed afterwards, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ctrnet.backends.kernel.backend import KernelBackend
from ctrnet.manager import NetworkManager
from ctrnet.network import EndpointSpec, NetworkSpec

CNI_DIR = "/usr/lib/cni"
SUBNET = "10.97.0.0/16"


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered) * 1000,
            "p90_ms": ordered[int(len(ordered) * 0.9) - 1] * 1000,
            "mean_ms": statistics.fmean(ordered) * 1000}


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def reference(n: int, *, fsync: bool, concurrent: bool, antispoof: bool) -> dict[str, Any]:
    with KernelBackend() as world, tempfile.TemporaryDirectory() as state:
        manager = NetworkManager(world, state, fsync=fsync, concurrent_tools=concurrent)
        manager.create_network(NetworkSpec(name="bench", subnet=SUBNET, bridge="ctr0",
                                           antispoof=antispoof))
        containers = [f"c{i}" for i in range(n)]
        for name in containers:
            world.netns_add(name)
        connect = [_timed(lambda c=c: manager.connect(EndpointSpec(c, "bench")))
                   for c in containers]
        assert world.ping(containers[-1], "10.97.0.1").ok, "benchmark network broken"
        disconnect = [_timed(lambda c=c: manager.disconnect("bench", c)) for c in containers]
        manager.delete_network("bench")
        manager.close()
    return {"connect": _ms(connect), "disconnect": _ms(disconnect)}


def _cni(world: KernelBackend, command: str, container: str, config: dict[str, Any]) -> None:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container,
           "CNI_NETNS": f"/run/netns/{world.real_netns(container)}", "CNI_IFNAME": "eth0",
           "CNI_PATH": CNI_DIR, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    # The plugin runs in the sandbox host namespace, as a runtime would run it in the host's.
    argv = ["nsenter", f"--net=/run/netns/{world.real_netns(world.host_ns)}", "--",
            os.path.join(CNI_DIR, "bridge")]
    done = subprocess.run(argv, input=json.dumps(config), env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"CNI bridge {command} failed: {done.stdout} {done.stderr}")


def cni_bridge(n: int) -> dict[str, Any] | None:
    if not os.path.exists(os.path.join(CNI_DIR, "bridge")):
        return None
    with KernelBackend() as world, tempfile.TemporaryDirectory() as data:
        config = {"cniVersion": "1.0.0", "name": "bench", "type": "bridge", "bridge": "cni0",
                  "isGateway": True, "ipMasq": True,
                  "ipam": {"type": "host-local", "subnet": SUBNET, "dataDir": data}}
        containers = [f"c{i}" for i in range(n)]
        for name in containers:
            world.netns_add(name)
        add = [_timed(lambda c=c: _cni(world, "ADD", c, config)) for c in containers]
        delete = [_timed(lambda c=c: _cni(world, "DEL", c, config)) for c in containers]
    return {"add": _ms(add), "del": _ms(delete)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--fsync", action="store_true",
                        help="sync every state write (off by default, see NetworkManager)")
    parser.add_argument("--sequential", action="store_true",
                        help="no overlap of the rule tools with the link steps")
    parser.add_argument("--no-antispoof", action="store_true",
                        help="without the two ebtables processes of MAC anti-spoofing")
    parser.add_argument("--no-cni", action="store_true", help="skip the CNI comparison")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("connect_latency: needs root (the kernel backend)", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "n": args.n, "fsync": args.fsync, "concurrent_tools": not args.sequential,
        "antispoof": not args.no_antispoof,
        "ctrnet": reference(args.n, fsync=args.fsync, concurrent=not args.sequential,
                            antispoof=not args.no_antispoof),
        "cni_bridge": None if args.no_cni else cni_bridge(args.n)}
    ours = results["ctrnet"]["connect"]["median_ms"]
    theirs = results["cni_bridge"]["add"]["median_ms"] if results["cni_bridge"] else None
    results["ratio_to_cni"] = ours / theirs if theirs else None
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{args.n} containers, fsync={'on' if args.fsync else 'off'}, "
          f"tools {'sequential' if args.sequential else 'overlapped'}, "
          f"antispoof {'off' if args.no_antispoof else 'on'}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    for what in ("connect", "disconnect"):
        row = results["ctrnet"][what]
        print(f"ctrnet {what:10}  median {row['median_ms']:6.2f} ms  p90 {row['p90_ms']:6.2f} ms")
    if results["cni_bridge"]:
        for what in ("add", "del"):
            row = results["cni_bridge"][what]
            print(f"CNI bridge {what:6}  median {row['median_ms']:6.2f} ms  "
                  f"p90 {row['p90_ms']:6.2f} ms")
        print(f"ctrnet connect / CNI ADD = {results['ratio_to_cni']:.2f} (target <= 0.33)")
    elif not args.no_cni:
        print("CNI bridge plugin not installed (/usr/lib/cni/bridge): no comparison")
    print(f"median connect target 8 ms: {'met' if ours <= 8 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
