"""NetworkManager: the reference container-network model over a Backend.

It owns the networks of one host (world): creates and deletes their bridges, keeps ctrnet's
iptables chains equal to what the state says (`rules.py`), the host sysctls a bridge network
needs, and the IPAM pools; connecting containers is `endpoint.py`'s. Every change is a `Plan`
(undone on failure) or a `Cleanup` (idempotent), and the state directory makes a second
process, or a second CLI invocation, see what the first one made.

Every operation writes its intent in the journal (`ctrnet.journal`) before it acts and removes
it when its outcome is in the state (and, for a world kept on disk, in the world: the
backend's `checkpoint`). Every operation and query first recovers the operations whose
process died: a dead connect or network create is undone, a dead disconnect, network rm or
gc is finished. docs/state.md tells the whole story.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from ctrnet import endpoint as _endpoint
from ctrnet import names
from ctrnet.backend import Backend
from ctrnet.endpoint import OP_KEY, Collaborators
from ctrnet.errors import CtrnetError, InvalidConfig, NotFound
from ctrnet.ipam import Allocator
from ctrnet.ipam_store import FileStore
from ctrnet.journal import Entry, Journal
from ctrnet.network import (
    EndpointRecord,
    EndpointSpec,
    FieldError,
    Mode,
    NetworkSpec,
    host_ifname,
)
from ctrnet.plan import Cleanup, FaultHook, Plan, TraceHook, gone_ok, if_present
from ctrnet.rules import (
    JUMPS,
    base_remove_text,
    chains_present,
    jumps_present,
    render,
    restore_text,
)
from ctrnet.state import StateStore

__all__ = ["HOST_SYSCTLS", "MILESTONES", "NetworkManager"]

#: The points of every operation outside its plan's steps, in order: its journal entry is
#: written; the world is made durable (`Backend.checkpoint`); the entry is about to go.
MILESTONES = ("intent-written", "checkpoint", "outcome")

#: What a bridge network needs in the host namespace, and why:
#: ip_forward routes the containers' packets to the uplink (and back);
#: bridge-nf-call-iptables makes br_netfilter pass bridged frames through iptables, which
#: isolation, ICC off and anti-spoofing rely on (Docker sets it too).
HOST_SYSCTLS: dict[str, str] = {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
}


class NetworkManager:
    """Networks and endpoints of one world, persisted under `state_dir`.

    `fsync` is off by default: the records describe kernel objects that a power loss takes
    away as well (a process crash keeps the page cache, and every write is a rename, so no
    reader sees half a record); `gc` reconciles after a reboot. `concurrent_tools` runs the
    rule steps on a thread pool while the links are built (the kernel backend allows it).
    """

    def __init__(
        self,
        backend: Backend,
        state_dir: str | os.PathLike[str],
        *,
        fault: FaultHook | None = None,
        trace: TraceHook | None = None,
        fsync: bool = False,
        concurrent_tools: bool = False,
    ) -> None:
        self.backend = backend
        self.state = StateStore(state_dir, fsync=fsync)
        self.journal = Journal(self.state.root, fsync=fsync)
        self._recovering = False
        self.fault = fault  # tests: fail a step by name (`plan.fail_at`)
        self.trace = trace  # progress / step discovery
        self._fsync = fsync
        self._pools: dict[str, tuple[str, Allocator]] = {}
        self._pools_lock = threading.Lock()
        # Rule steps (tool processes on the kernel) overlap the link steps when the backend
        # tolerates calls from two threads at once; the simulator is not made for that.
        self._concurrent = concurrent_tools
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0

    @property
    def host_ns(self) -> str:
        return self.backend.host_ns

    def plan(self, operation: str) -> Plan:
        return Plan(operation, fault=self.fault, trace=self.trace, executor=self._pool())

    def _milestone(self, operation: str, step: str) -> None:
        """A point of an operation outside its plan (`MILESTONES`): the fault hook sees it, so
        crash tests kill the process there; it is no step to undo, so the trace does not."""
        if self.fault is not None:
            self.fault(operation, step)

    def _collaborators(self) -> Collaborators:
        return Collaborators(backend=self.backend, state=self.state, allocator=self.allocator,
                             cleanup=self.cleanup,
                             rerender_without=lambda key: self.sync_rules(skip_endpoint=key))

    def _pool(self) -> ThreadPoolExecutor | None:
        # A thread holding the world lock runs every step itself: a step that takes the lock
        # on a pool thread would wait for it forever.
        if not self._concurrent or self.state.held():
            return None
        # A forked child inherits the pool object but none of its threads: make its own.
        if self._executor is None or self._executor_pid != os.getpid():
            self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ctrnet-rules")
            self._executor_pid = os.getpid()
        return self._executor

    def cleanup(self, operation: str) -> Cleanup:
        return Cleanup(operation, fault=self.fault, trace=self.trace, executor=self._pool())

    # -- the journal -------------------------------------------------------------------------
    def _begin(self, op: str, **args: object) -> Entry:
        entry = self.journal.begin(op, **args)
        try:
            self._milestone(op, "intent-written")
        except BaseException:
            self.journal.finish(entry)
            raise
        return entry

    def _end(self, entry: Entry, *, clean: bool = True) -> None:
        """The operation is over: make the world durable, then drop its entry (or, after an
        undo that failed, leave it to the next command's recovery)."""
        try:
            self._milestone(entry.op, "checkpoint")
            self._checkpoint()
            self._milestone(entry.op, "outcome")
        except BaseException:
            self.journal.release(entry)
            raise
        if clean:
            self.journal.finish(entry)
        else:
            self.journal.release(entry)

    def recover(self) -> list[str]:
        """Complete or undo the operations whose process died (SIGKILL, a crash): their
        journal entries are unlocked. Returns the ids handled. Every operation and query
        calls this first; it costs one directory read when there is nothing to do."""
        if self._recovering or not self.journal.pending() or not self.journal.any_dead():
            return []
        handled = []
        with self.state.locked():
            self._recovering = True
            try:
                self._rewind_records()
                for entry in self.journal.dead():
                    try:
                        self._recover(entry)
                    except BaseException as exc:
                        self.journal.release(entry)
                        if isinstance(exc, CtrnetError):
                            exc.add_note(f"ctrnet: while recovering the interrupted "
                                         f"{entry.op} ({entry.path}); run the command again "
                                         "to retry")
                        raise
                    self._checkpoint()
                    self.journal.finish(entry)
                    handled.append(entry.id)
                self.state.sweep_temporaries()
            finally:
                self._recovering = False
        return handled

    def _checkpoint(self) -> None:
        """The world durable, with the records as they are now (for a world kept on disk by
        the backend, both in one atomic write)."""
        if self.backend.checkpointed_records() is None:
            self.backend.checkpoint()  # the kernel: durable as it goes
        else:
            self.backend.checkpoint(self.state.records())

    def _rewind_records(self) -> None:
        """A world kept by the backend moves only at checkpoints: when a crash left the
        records ahead of it, put back the records saved with it, so that recovery starts
        from a world and records that agree."""
        saved = self.backend.checkpointed_records()
        if saved is not None and saved != self.state.records():
            self.state.put_records(saved)
            with self._pools_lock:
                for _subnet, allocator in self._pools.values():
                    allocator.store.close()
                self._pools.clear()

    def _recover(self, entry: Entry) -> None:
        args = entry.args
        if entry.op == "connect":
            network, container = str(args["network"]), str(args["container"])
            record = self.state.endpoint(network, container)
            if record is not None and record.extra.get(OP_KEY) == entry.id:
                _endpoint.disconnect(self._collaborators(), network, container)
            if args.get("create_netns") and self._netns_unused(container, entry):
                if_present(lambda: self.backend.netns_delete(container))
        elif entry.op == "disconnect":
            network, container = str(args["network"]), str(args["container"])
            record = self.state.endpoint(network, container)
            if record is None or record.extra.get(OP_KEY) == args.get("target"):
                _endpoint.disconnect(self._collaborators(), network, container)
            if args.get("delete_netns") and self._netns_unused(container, entry):
                if_present(lambda: self.backend.netns_delete(container))
        elif entry.op in ("network-create", "network-rm"):
            # Undo the one, finish the other: both end with the network gone. Its record
            # goes before the host sysctls are put back, so that last step may remain.
            if self.state.network(str(args["name"])) is not None:
                self._delete_network(str(args["name"]))
            else:
                self._restore_host_sysctls()
        elif entry.op == "gc":
            self._gc()

    def _check_state(self, network: str | None = None) -> None:
        """Read what a change will use before it starts: a corrupt file is an error naming
        it before anything is touched, not half-way through. Every record, port claim and
        reservation; for one endpoint's change (`network` given), the port claims and that
        network's record and reservations (an endpoint needs no other endpoint's record,
        and reading them all would make each connect cost more as containers are added)."""
        self.state.port_owners()
        if network is not None:
            net = self.state.network(network) if network else None  # "": host/none mode
            if net is not None:
                self.allocator(net).allocations()
            return
        self.state.endpoints()
        for net in self.state.networks():
            self.allocator(net).allocations()

    def _netns_unused(self, container: str, entry: Entry) -> bool:
        """Whether a namespace the interrupted operation `entry` made (or was removing)
        exists and nothing else uses it: no record, no other live operation names it."""
        if container not in self.backend.netns_list():
            return False
        if self.state.container_endpoints(container):
            return False
        return not any(e.get("container") == container and e.get("id") != entry.id
                       for e in self.journal.live())

    # -- queries ---------------------------------------------------------------------------
    def networks(self) -> list[NetworkSpec]:
        self.recover()
        return self.state.networks()

    def network(self, name: str) -> NetworkSpec:
        names.network(name)
        self.recover()
        spec = self.state.network(name)
        if spec is None:
            raise NotFound(f"network {name!r} does not exist",
                           ja=f"ネットワーク {name!r} は存在しません")
        return spec

    def endpoints(self, network: str | None = None) -> list[EndpointRecord]:
        self.recover()
        return self.state.endpoints(network)

    def allocator(self, net: NetworkSpec) -> Allocator:
        """The IPAM allocator of `net` (a FileStore under the state dir: process-safe)."""
        with self._pools_lock:
            cached = self._pools.get(net.name)
            if cached is not None and cached[0] == net.subnet:
                return cached[1]
            if cached is not None:
                cached[1].store.close()
            store = FileStore(self.state.ipam_root, net.name, fsync=self._fsync)
            allocator = Allocator(net.pool, store)
            self._pools[net.name] = (net.subnet, allocator)
            return allocator

    def _drop_allocator(self, name: str) -> None:
        with self._pools_lock:
            cached = self._pools.pop(name, None)
        if cached is not None:
            cached[1].store.close()
        self.state.remove_pool_files(name)

    def close(self) -> None:
        if self._executor is not None and self._executor_pid == os.getpid():
            self._executor.shutdown(wait=True)
        self._executor = None
        with self._pools_lock:
            for _subnet, allocator in self._pools.values():
                allocator.store.close()
            self._pools.clear()

    # -- rules -------------------------------------------------------------------------------
    def sync_rules(
        self,
        *,
        skip_network: str | None = None,
        skip_endpoint: tuple[str, str] | None = None,
        extra: EndpointRecord | None = None,
        check: bool = False,
    ) -> None:
        """Make ctrnet's chains say what the state says (minus the skipped, plus `extra`), in
        one iptables-restore. Caller holds the world lock. `check` reads iptables-save to
        find missing jumps (create, gc); otherwise host.json's flag says whether they exist."""
        nets = [n for n in self.state.networks() if n.name != skip_network]
        eps = [e for e in self.state.endpoints() if e.active and e.key != skip_endpoint
               and e.network != skip_network and (extra is None or e.key != extra.key)]
        if extra is not None:
            eps.append(extra)
        host = self.state.host()
        installed = bool(host.get("rules"))
        backend = self.backend
        if not nets:
            if installed or check:
                saved = backend.iptables_save(self.host_ns)
                if chains_present(saved) or jumps_present(saved):
                    backend.iptables_restore(self.host_ns, base_remove_text(jumps_present(saved)))
                host.pop("rules", None)
                self.state.put_host(host)
            return
        missing: set[tuple[str, str, str]] = set()
        if check or not installed:
            missing = set(JUMPS) - jumps_present(backend.iptables_save(self.host_ns))
        backend.iptables_restore(self.host_ns, restore_text(render(nets, eps), add_jumps=missing))
        if not installed:
            host["rules"] = True
            self.state.put_host(host)

    # -- host sysctls ------------------------------------------------------------------------
    def _set_host_sysctls(self) -> None:
        host = self.state.host()
        saved: dict[str, str] = host.setdefault("sysctls", {})
        for key, value in HOST_SYSCTLS.items():
            try:
                old = self.backend.sysctl_get(self.host_ns, key)
            except NotFound:
                continue  # no br_netfilter in this world: nothing to set
            if old != value:
                saved.setdefault(key, old)
                self.backend.sysctl_set(self.host_ns, key, value)
        self.state.put_host(host)

    def _restore_host_sysctls(self, *, unless_networks: bool = True) -> None:
        if unless_networks and self.state.networks():
            return
        host = self.state.host()
        for key, old in host.pop("sysctls", {}).items():
            with contextlib.suppress(NotFound):
                self.backend.sysctl_set(self.host_ns, key, old)
        self.state.put_host(host)

    # -- networks ------------------------------------------------------------------------------
    def _validate_network(self, spec: NetworkSpec) -> None:
        for other in self.state.networks():
            if other.name == spec.name:
                raise FieldError("name", f"network {spec.name!r} exists already",
                                 ja=f"ネットワーク {spec.name!r} はすでに存在します")
            if other.bridge == spec.bridge:
                raise FieldError("bridge", f"bridge {spec.bridge!r} is network {other.name!r}'s",
                                 ja=f"ブリッジ {spec.bridge!r} はネットワーク {other.name!r} の"
                                    "ものです")
            if other.overlaps(spec):
                raise FieldError(
                    "subnet", f"{spec.subnet} overlaps {other.subnet} of network {other.name!r}",
                    ja=f"{spec.subnet} はネットワーク {other.name!r} の {other.subnet} と"
                       "重なります",
                )

    def create_network(self, spec: NetworkSpec) -> NetworkSpec:
        """Make the bridge, its gateway address, the pool and the rules; all or nothing."""
        backend, host = self.backend, self.host_ns
        self.recover()
        with self.state.locked():
            self._check_state()
            self._validate_network(spec)
            if any(link.name == spec.bridge for link in backend.link_list(host)):
                raise FieldError("bridge", f"a link named {spec.bridge!r} exists in the host",
                                 ja=f"ホストに {spec.bridge!r} という名前のリンクがすでに"
                                    "あります")
            entry = self._begin("network-create", name=spec.name)
            plan = self.plan("create")
            try:
                with plan:
                    self._create_steps(plan, spec)
            except BaseException:
                self._end(entry, clean=plan.clean)
                raise
            self._end(entry)
        return spec

    def _create_steps(self, plan: Plan, spec: NetworkSpec) -> None:
        backend, host = self.backend, self.host_ns
        plan.step("record-network", lambda: self.state.put_network(spec),
                  lambda _: self.state.remove_network(spec.name))
        plan.step("ipam-pool", lambda: self.allocator(spec),
                  lambda _: self._drop_allocator(spec.name))
        plan.step("create-bridge", lambda: backend.bridge_add(host, spec.bridge),
                  gone_ok(lambda: backend.link_delete(host, spec.bridge)))
        plan.step("bridge-mtu", lambda: backend.link_set_mtu(host, spec.bridge, spec.mtu))
        plan.step("gateway-address", lambda: backend.addr_add(
            host, spec.bridge, f"{spec.gateway}/{spec.prefixlen}"))
        plan.step("bridge-up", lambda: backend.link_set_up(host, spec.bridge))
        plan.step("host-sysctls", self._set_host_sysctls,
                  lambda _: self._restore_host_sysctls_without(spec.name))
        plan.step("iptables", lambda: self.sync_rules(check=True),
                  lambda _: self.sync_rules(skip_network=spec.name))

    def _restore_host_sysctls_without(self, name: str) -> None:
        if not [n for n in self.state.networks() if n.name != name]:
            self._restore_host_sysctls(unless_networks=False)

    def delete_network(self, name: str, *, force: bool = False) -> bool:
        """Remove a network; False when there was nothing to remove. Idempotent. Refuses while
        containers are connected, unless `force` disconnects them first."""
        names.network(name)
        self.recover()
        with self.state.locked():
            if self.state.network(name) is None:
                return False
            endpoints = self.state.endpoints(name)
            if endpoints and not force:
                held = ", ".join(e.container for e in endpoints)
                raise InvalidConfig(f"network {name!r} has connected containers: {held}",
                                    ja=f"ネットワーク {name!r} には接続されたコンテナがあります"
                                       f": {held}（--force で先に切断できます）")
            self._check_state()
            busy = [e for e in self.journal.live() if e.get("network") == name]
            if busy:
                raise InvalidConfig(f"network {name!r} is in use by a {busy[0]['op']} under "
                                    "way: try again when it is over",
                                    ja=f"ネットワーク {name!r} は実行中の {busy[0]['op']} が"
                                       "使っています: 終わってから再実行してください")
            entry = self._begin("network-rm", name=name)
            try:
                self._delete_network(name)
            except BaseException:
                self._end(entry, clean=False)
                raise
            self._end(entry)
        return True

    def _delete_network(self, name: str) -> None:
        """Disconnect what remains, then remove the network. Caller holds the world lock."""
        spec = self.state.network(name)
        if spec is None:
            return
        for ep in self.state.endpoints(name):
            _endpoint.disconnect(self._collaborators(), name, ep.container)
        backend, host = self.backend, self.host_ns
        job = self.cleanup("delete")
        job.step("iptables", lambda: self.sync_rules(skip_network=name))
        job.step("delete-bridge", lambda: backend.link_delete(host, spec.bridge))
        job.step("ipam-pool", lambda: self._drop_allocator(name))
        job.step("forget-network", lambda: self.state.remove_network(name))
        job.step("host-sysctls", self._restore_host_sysctls)
        job.finish()

    # -- endpoints (endpoint.py does the work) -------------------------------------------------
    def connect(self, spec: EndpointSpec, *, create_netns: bool = False) -> EndpointRecord:
        """Connect a container; with `create_netns`, make its namespace first when there is
        none (a step of the transaction: undone with the rest)."""
        self.recover()
        ctx = self._collaborators()
        with self.state.locked():
            create = (create_netns and spec.mode is not Mode.HOST
                      and spec.container not in self.backend.netns_list())
            self._check_state(spec.network if spec.mode is Mode.BRIDGE else "")
            _endpoint.validate(ctx, spec, netns_made=create)
            entry = self._begin("connect", network=spec.network, container=spec.container,
                                create_netns=create)
        plan = self.plan("connect")
        try:
            with plan:
                record = _endpoint.connect(ctx, plan, spec, op=entry.id, create_netns=create)
        except BaseException:
            self._end(entry, clean=plan.clean)
            raise
        self._end(entry)
        return record

    def disconnect(self, network: str, container: str, *, delete_netns: bool = False) -> bool:
        """Disconnect a container (idempotent); with `delete_netns`, then delete its
        namespace. False when it was not connected."""
        names.endpoint(network, container)
        self.recover()
        with self.state.locked():
            self._check_state(network if network not in ("host", "none") else "")
            record = self.state.endpoint(network, container)
            entry = self._begin("disconnect", network=network, container=container,
                                delete_netns=delete_netns,
                                target=record.extra.get(OP_KEY) if record else None)
        try:
            done = _endpoint.disconnect(self._collaborators(), network, container,
                                        delete_netns=delete_netns)
        except BaseException:
            self._end(entry, clean=False)
            raise
        self._end(entry)
        return done

    # -- garbage collection --------------------------------------------------------------------
    def gc(self) -> list[EndpointRecord]:
        """Disconnect endpoints whose container namespace is gone (their links went with it;
        their rules, allocations and records remain), then remove orphans: host-side veths
        and IPAM reservations no record accounts for. Returns the endpoints collected."""
        self.recover()
        with self.state.locked():
            self._check_state()
            entry = self._begin("gc")
            try:
                gone = self._gc()
            except BaseException:
                self._end(entry, clean=False)
                raise
            self._end(entry)
        return gone

    def _gc(self) -> list[EndpointRecord]:
        """gc's work, under the world lock: nothing can start meanwhile, and what the
        operations under way hold (their journal entries name it) is left alone."""
        live = {(str(e.get("network")), str(e.get("container")))
                for e in self.journal.live() if e.get("op") in ("connect", "disconnect")}
        alive = set(self.backend.netns_list())
        gone = [e for e in self.state.endpoints()
                if e.mode is not Mode.HOST and e.container not in alive and e.key not in live]
        ctx = self._collaborators()
        for ep in gone:
            _endpoint.disconnect(ctx, ep.network, ep.container)
        records = self.state.endpoints()
        owners = {(e.network, e.container) for e in records} | live
        known = {e.host_ifname for e in records if e.host_ifname}
        known |= {host_ifname(net, ctr) for net, ctr in live}
        orphans = [link.name for link in self.backend.link_list(self.host_ns)
                   if _is_ours(link.name) and link.name not in known]
        for name in orphans:
            if_present(partial(self.backend.link_delete, self.host_ns, name))
        self.state.release_all_ports({f"{net}/{ctr}" for net, ctr in owners})
        for net in self.state.networks():
            allocator = self.allocator(net)
            for _address, owner in allocator.allocations().items():
                if (net.name, owner) not in owners:
                    allocator.release(owner)
        if self.state.networks():
            self.sync_rules(check=True)
        return gone

    def state_files(self) -> list[str]:
        return self.state.files()

    @property
    def state_dir(self) -> Path:
        return self.state.root


def _is_ours(name: str) -> bool:
    return name.startswith("vc") and len(name) == 13
