"""IP address management: which addresses of a network's subnet go to which container.

A PoolConfig says which addresses of an IPv4 subnet may be handed out; an Allocator hands them
to owners from a Store (`ctrnet.ipam_store`) the way CNI's host-local plugin does: round-robin
from the last reserved address, one address per owner, allocate and release both idempotent.
Ipam holds the pools of several named networks and refuses subnets that overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from netaddr import AddrFormatError, IPAddress, IPNetwork

from ctrnet.errors import AlreadyExists, InvalidConfig, NotFound, PoolExhausted
from ctrnet.ipam_runs import TakenRuns
from ctrnet.ipam_store import FileStore, MemoryStore, Store

__all__ = ["MIN_PREFIXLEN", "SPECIAL_BLOCKS", "AddressInUse", "Allocator", "Ipam", "PoolConfig"]


class AddressInUse(AlreadyExists):
    """A requested address is held by another owner."""

    def __init__(self, pool: str, address: IPAddress, holder: str) -> None:
        super().__init__(f"address {address} of pool {pool!r} is held by {holder!r}",
                         ja=f"プール {pool!r} のアドレス {address} は {holder!r} が使用中です")
        self.pool = pool
        self.address = address
        self.holder = holder


#: The values `_ipv4` and PoolConfig check, as a Japanese message names them.
_WHAT_JA = {"gateway": "ゲートウェイ", "range start": "範囲の先頭", "range end": "範囲の末尾",
            "requested address": "要求されたアドレス"}


def _ipv4(value: str | IPAddress, what: str) -> IPAddress:
    what_ja = _WHAT_JA.get(what, what)
    try:
        address = IPAddress(value)
    except (AddrFormatError, ValueError, TypeError) as exc:
        raise InvalidConfig(f"{what} {value!r} is not an IP address",
                            ja=f"{what_ja} {value!r} は IP アドレスではありません") from exc
    if address.version != 4:
        raise InvalidConfig(f"{what} {address} is IPv6; ctrnet's IPAM handles IPv4 only",
                            ja=f"{what_ja} {address} は IPv6 です。ctrnet の IPAM は IPv4 "
                               "だけを扱います")
    return address


def _check_owner(owner: str) -> None:
    # The owner is written as one line of a reservation file and read back stripped.
    if not isinstance(owner, str) or not owner or owner != owner.strip():
        raise InvalidConfig(f"owner {owner!r} must be a non-empty string without outer spaces",
                            ja=f"所有者 {owner!r} は空でなく、前後に空白のない文字列にします")
    if not owner.isprintable():
        raise InvalidConfig(f"owner {owner!r} must not contain control characters",
                            ja=f"所有者 {owner!r} に制御文字を含めることはできません")


@dataclass(frozen=True)
class PoolConfig:
    """The addresses of one network that may be handed out: range_start..range_end of
    `subnet`, minus the gateway. Build it with `PoolConfig.create`, which fills the defaults."""

    name: str
    subnet: IPNetwork
    range_start: IPAddress
    range_end: IPAddress
    gateway: IPAddress

    @classmethod
    def create(
        cls,
        name: str,
        subnet: str | IPNetwork,
        *,
        range_start: str | IPAddress | None = None,
        range_end: str | IPAddress | None = None,
        gateway: str | IPAddress | None = None,
    ) -> PoolConfig:
        """Parse and check a pool; the range defaults to every usable address of the
        subnet and the gateway to the first usable one (host-local's defaults)."""
        try:
            network = IPNetwork(subnet)
        except (AddrFormatError, ValueError, TypeError) as exc:
            raise InvalidConfig(f"subnet {subnet!r} of network {name!r} is not a CIDR",
                                ja=f"ネットワーク {name!r} のサブネット {subnet!r} は CIDR 表記"
                                   "ではありません（例: 172.20.0.0/24）") from exc
        if network.version != 4:
            raise InvalidConfig(
                f"subnet {network} of network {name!r} is IPv6; ctrnet's IPAM handles IPv4 only",
                ja=f"ネットワーク {name!r} のサブネット {network} は IPv6 です。ctrnet の IPAM は "
                   "IPv4 だけを扱います",
            )
        # Checked here as well as in __post_init__: first/last usable need a subnet with room.
        _check_subnet(name, network)
        first, last = network.first + 1, network.last - 1
        start = _ipv4(range_start, "range start") if range_start is not None else None
        end = _ipv4(range_end, "range end") if range_end is not None else None
        return cls(
            name=name,
            subnet=IPNetwork(f"{network.network}/{network.prefixlen}"),
            range_start=start if start is not None else IPAddress(first, 4),
            range_end=end if end is not None else IPAddress(last, 4),
            gateway=_ipv4(gateway, "gateway") if gateway is not None else IPAddress(first, 4),
        )

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidConfig("a pool needs a network name",
                                ja="プールにはネットワーク名が必要です")
        _check_subnet(self.name, self.subnet)
        usable = range(self.subnet.first + 1, self.subnet.last)  # network, broadcast excluded
        for what, address in (
            ("gateway", self.gateway),
            ("range start", self.range_start),
            ("range end", self.range_end),
        ):
            if address.version != 4:
                raise InvalidConfig(f"{what} {address} of network {self.name!r} is not IPv4",
                                    ja=f"ネットワーク {self.name!r} の{_WHAT_JA[what]} "
                                       f"{address} は IPv4 ではありません")
            if int(address) not in usable:
                where = "lies outside"
                where_ja = "の外にあります"
                if address in self.subnet:
                    where = "is the network or broadcast address of"
                    where_ja = "のネットワークアドレスかブロードキャストアドレスです"
                raise InvalidConfig(
                    f"{what} {address} of network {self.name!r} {where} subnet {self.subnet}",
                    ja=f"ネットワーク {self.name!r} の{_WHAT_JA[what]} {address} はサブネット "
                       f"{self.subnet} {where_ja}",
                )
        if self.range_start > self.range_end:
            raise InvalidConfig(
                f"range {self.range_start}-{self.range_end} of network {self.name!r} is empty:"
                " its start is after its end",
                ja=f"ネットワーク {self.name!r} の範囲 {self.range_start}-{self.range_end} は"
                   "空です: 先頭が末尾より後にあります",
            )
        if self.size == 0:
            raise InvalidConfig(
                f"range {self.range_start}-{self.range_end} of network {self.name!r}"
                " holds only the gateway",
                ja=f"ネットワーク {self.name!r} の範囲 {self.range_start}-{self.range_end} には"
                   "ゲートウェイしかありません",
            )

    @property
    def size(self) -> int:
        """How many addresses can be handed out."""
        count = int(self.range_end) - int(self.range_start) + 1
        return count - 1 if self.range_start <= self.gateway <= self.range_end else count

    def overlaps(self, other: PoolConfig) -> bool:
        return self.subnet.first <= other.subnet.last and other.subnet.first <= self.subnet.last

    def __str__(self) -> str:
        return f"{self.name} ({self.subnet}, {self.range_start}-{self.range_end})"


#: The shortest prefix a network may have. 10.0.0.0/8, the largest private block (RFC 1918),
#: is the largest subnet a container network has a use for; anything shorter spans more than
#: one private block or takes in public and special addresses (0.0.0.0/0 would make
#: MASQUERADE rewrite every packet of the host). A Linux bridge takes at most 1,023 ports
#: (BR_MAX_PORTS), so even a /22 holds every container one bridge can; /8 is allowed for
#: address plans like Docker's, and costs nothing up front: the allocator's memory grows with
#: the addresses in use, not with the subnet.
MIN_PREFIXLEN = 8
#: Blocks no container network may overlap, and why (RFC 6890's special-purpose registry).
SPECIAL_BLOCKS: tuple[tuple[IPNetwork, str], ...] = (
    (IPNetwork("0.0.0.0/8"), "'this network' (RFC 1122): not a destination"),
    (IPNetwork("127.0.0.0/8"), "loopback (RFC 1122): never leaves a host"),
    (IPNetwork("169.254.0.0/16"), "link-local (RFC 3927): not routed, never a pool"),
    (IPNetwork("224.0.0.0/4"), "multicast (RFC 5771): not a host address"),
    (IPNetwork("240.0.0.0/4"), "reserved (RFC 1112) and the limited broadcast address"),
)
#: Why, in Japanese, by block.
_SPECIAL_JA = {
    "0.0.0.0/8": "「このネットワーク」（RFC 1122）: 宛先にはなりません",
    "127.0.0.0/8": "ループバック（RFC 1122）: ホストの外に出ません",
    "169.254.0.0/16": "リンクローカル（RFC 3927）: ルーティングされず、プールにはできません",
    "224.0.0.0/4": "マルチキャスト（RFC 5771）: ホストのアドレスではありません",
    "240.0.0.0/4": "予約済み（RFC 1112）と限定ブロードキャストアドレス",
}


def _check_subnet(name: str, subnet: IPNetwork) -> None:
    if subnet.version != 4:
        raise InvalidConfig(f"subnet {subnet} of network {name!r} is IPv6; IPv4 only",
                            ja=f"ネットワーク {name!r} のサブネット {subnet} は IPv6 です。"
                               "IPv4 だけを扱います")
    if subnet.prefixlen < MIN_PREFIXLEN:
        raise InvalidConfig(
            f"subnet {subnet} of network {name!r} is too large: the shortest prefix is"
            f" /{MIN_PREFIXLEN}",
            ja=f"ネットワーク {name!r} のサブネット {subnet} は大きすぎます: プレフィックス長は"
               f"最短で /{MIN_PREFIXLEN} です",
        )
    if subnet.ip != subnet.network:
        raise InvalidConfig(
            f"subnet {subnet} of network {name!r} has host bits set;"
            f" its network is {subnet.network}/{subnet.prefixlen}",
            ja=f"ネットワーク {name!r} のサブネット {subnet} にはホスト部のビットが立っています。"
               f"そのネットワークは {subnet.network}/{subnet.prefixlen} です",
        )
    for block, why in SPECIAL_BLOCKS:
        if subnet.first <= block.last and block.first <= subnet.last:
            raise InvalidConfig(
                f"subnet {subnet} of network {name!r} overlaps {block}, {why}",
                ja=f"ネットワーク {name!r} のサブネット {subnet} は {block} と重なります。"
                   f"{_SPECIAL_JA.get(str(block), why)}",
            )
    if subnet.prefixlen >= 31:
        # RFC 3021 /31s have no network or broadcast address and a /32 holds one host: either
        # leaves nothing once the gateway is taken, so a bridge network cannot use them.
        raise InvalidConfig(
            f"subnet {subnet} of network {name!r} is too small: a pool needs at least a /30"
            " (network, gateway, one container and broadcast address)",
            ja=f"ネットワーク {name!r} のサブネット {subnet} は小さすぎます: プールには少なくとも"
               " /30 が必要です（ネットワーク・ゲートウェイ・コンテナ 1 つ・ブロードキャストの"
               "アドレス）",
        )


class Allocator:
    """Hands out the addresses of one pool from a store, one per owner.

    Beside the store it keeps the taken addresses as sorted runs (`TakenRuns`: memory grows
    with the addresses in use, not the range — a /8 costs nothing until used) and starts each
    search after the last reserved address, like host-local: the next free address is a
    bisection, never a Python loop over the addresses in use. Changes
    made behind the map (another allocator or process) are caught up address by address from
    the store's `changed_since`. Thread-safe; process-safe with a FileStore.
    """

    def __init__(self, config: PoolConfig, store: Store | None = None) -> None:
        self.config = config
        self.store: Store = store if store is not None else MemoryStore()
        self._first = int(config.range_start)
        self._count = int(config.range_end) - self._first + 1
        gateway = int(config.gateway) - self._first
        self._gateway_index = gateway if 0 <= gateway < self._count else None
        self._taken = TakenRuns(self._count)
        self._free = 0
        self._seen: int | None = None  # store version the map reflects; None: never built

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def size(self) -> int:
        return self.config.size

    # -- queries ---------------------------------------------------------------------------
    def lookup(self, owner: str) -> IPAddress | None:
        """The address `owner` holds, or None."""
        with self.store.locked():
            return self.store.address_of(owner)

    def holder(self, address: str | IPAddress) -> str | None:
        """Who holds `address`, or None when it is free."""
        wanted = _ipv4(address, "address")
        with self.store.locked():
            return self.store.owner_of(wanted)

    def allocations(self) -> dict[IPAddress, str]:
        """Every reservation in the store, address -> owner."""
        with self.store.locked():
            return self.store.allocations()

    @property
    def in_use(self) -> int:
        """How many of the pool's addresses are held."""
        with self.store.locked():
            self._sync()
            return self.size - self._free

    # -- allocate --------------------------------------------------------------------------
    def allocate(self, owner: str, requested: str | IPAddress | None = None) -> IPAddress:
        """The address for `owner`: the one it holds already (a retried CNI ADD gets the same
        answer), else `requested`, else the next free one after the last reserved.

        Raises PoolExhausted when no address is free, AddressInUse when `requested` is held by
        another owner, InvalidConfig when `requested` is outside the range or reserved."""
        _check_owner(owner)
        wanted = self._check_requested(requested) if requested is not None else None
        with self.store.locked():
            self._sync()
            held = self.store.address_of(owner)
            if held is not None:
                if wanted is not None and wanted != held:
                    raise InvalidConfig(
                        f"{owner!r} holds {held} in pool {self.name!r} already;"
                        f" release it before requesting {wanted}",
                        ja=f"{owner!r} はすでにプール {self.name!r} の {held} を持っています。"
                           f"{wanted} を要求する前に解放してください",
                    )
                return held
            if wanted is not None:
                return self._reserve_requested(owner, wanted)
            return self._reserve_next(owner)

    def _check_requested(self, requested: str | IPAddress) -> IPAddress:
        address = _ipv4(requested, "requested address")
        config = self.config
        if address == config.gateway:
            raise InvalidConfig(f"requested {address} is the gateway of pool {self.name!r}",
                                ja=f"要求された {address} はプール {self.name!r} の"
                                   "ゲートウェイです")
        if address in (config.subnet.network, config.subnet.broadcast):
            raise InvalidConfig(
                f"requested {address} is the network or broadcast address of pool {self.name!r}",
                ja=f"要求された {address} はプール {self.name!r} のネットワークアドレスか"
                   "ブロードキャストアドレスです",
            )
        if not config.range_start <= address <= config.range_end:
            raise InvalidConfig(f"requested {address} is outside pool {config}",
                                ja=f"要求された {address} はプール {config} の外です")
        return address

    def _reserve_requested(self, owner: str, address: IPAddress) -> IPAddress:
        holder = self.store.owner_of(address)
        if holder is None and self.store.reserve(address, owner):
            self._mark(int(address) - self._first, taken=True)
            return address
        self._mark(int(address) - self._first, taken=True)
        raise AddressInUse(self.name, address, self.store.owner_of(address) or "unknown")

    def _reserve_next(self, owner: str) -> IPAddress:
        while self._free > 0:
            # Round-robin from the last reserved address (host-local's lastReservedIP): a
            # released address is not handed out again until the range has been gone round,
            # so a new container does not inherit a stale ARP or conntrack entry at once.
            last = self.store.last_reserved()
            start = 0
            if last is not None and 0 <= int(last) - self._first < self._count:
                start = int(last) - self._first + 1
            index = self._taken.next_free(start)
            if index is None:
                break
            address = IPAddress(self._first + index, 4)
            reserved = self.store.reserve(address, owner)
            # Taken either way: when reserve says no, someone holds it behind our map.
            self._mark(index, taken=True)
            if reserved:
                return address
        raise PoolExhausted(f"pool {self.config} has no free address: all {self.size} are in use",
                            ja=f"プール {self.config} に空きアドレスがありません: {self.size} 個"
                               "すべてが使用中です")

    # -- release ---------------------------------------------------------------------------
    def release(self, owner: str) -> IPAddress | None:
        """Give back what `owner` holds; the address, or None when it held nothing.

        Idempotent on purpose: CNI DEL is retried, and a second release must succeed."""
        with self.store.locked():
            self._sync()
            address = self.store.address_of(owner)
            if address is None:
                return None
            self.store.release(address)
            self._mark(int(address) - self._first, taken=False)
            return address

    def release_address(self, address: str | IPAddress) -> str | None:
        """Free `address` whoever holds it; its former owner, or None. Idempotent."""
        wanted = _ipv4(address, "address")
        with self.store.locked():
            self._sync()
            owner = self.store.release(wanted)
            if owner is not None:
                self._mark(int(wanted) - self._first, taken=False)
            return owner

    # -- the free map ----------------------------------------------------------------------
    def _sync(self) -> None:
        """Catch the free map up with changes made behind it (another allocator or process):
        just the changed addresses when the store can name them, else a rebuild."""
        version = self.store.version
        if version == self._seen:
            return
        changed = None if self._seen is None else self.store.changed_since(self._seen)
        if changed is None:
            indexes = [int(address) - self._first for address in self.store.allocations()]
            if self._gateway_index is not None:
                indexes.append(self._gateway_index)
            self._taken = TakenRuns(self._count, (i for i in indexes if 0 <= i < self._count))
            self._free = self._count - len(self._taken)
        else:
            for address in changed:
                taken = self.store.owner_of(address) is not None
                self._set(int(address) - self._first, taken=taken)
        self._seen = version

    def _mark(self, index: int, *, taken: bool) -> None:
        """Record our own change, made under the lock just now: the map is current again."""
        self._set(index, taken=taken)
        self._seen = self.store.version

    def _set(self, index: int, *, taken: bool) -> None:
        if not 0 <= index < self._count or index == self._gateway_index:
            return
        if taken and self._taken.add(index):
            self._free -= 1
        elif not taken and self._taken.discard(index):
            self._free += 1


def _memory_store(network: str) -> Store:
    return MemoryStore()


class Ipam:
    """The pools of several networks, by network name; no two subnets may overlap, since an
    address must name one container on one network."""

    def __init__(self, store_factory: Callable[[str], Store] = _memory_store) -> None:
        self._store_factory = store_factory
        self._pools: dict[str, Allocator] = {}
        self._lock = threading.Lock()

    @classmethod
    def on_disk(cls, root: str, *, fsync: bool = True) -> Ipam:
        """An Ipam whose pools live in FileStores under `root`, one directory per network."""
        return cls(lambda network: FileStore(root, network, fsync=fsync))

    def add_pool(self, config: PoolConfig, store: Store | None = None) -> Allocator:
        """Register `config`; its allocator. Refuses a taken name or an overlapping subnet."""
        with self._lock:
            if config.name in self._pools:
                raise AlreadyExists(f"IPAM pool {config.name!r} exists already",
                                    ja=f"IPAM プール {config.name!r} はすでに存在します")
            for other in self._pools.values():
                if config.overlaps(other.config):
                    raise InvalidConfig(
                        f"subnet {config.subnet} of network {config.name!r} overlaps subnet"
                        f" {other.config.subnet} of network {other.name!r}",
                        ja=f"ネットワーク {config.name!r} のサブネット {config.subnet} は"
                           f"ネットワーク {other.name!r} のサブネット {other.config.subnet} と"
                           "重なります",
                    )
            allocator = Allocator(config, store or self._store_factory(config.name))
            self._pools[config.name] = allocator
            return allocator

    def remove_pool(self, name: str) -> None:
        """Forget the pool of `name` (its store keeps its files). Idempotent."""
        with self._lock:
            allocator = self._pools.pop(name, None)
        if allocator is not None:
            allocator.store.close()

    def pool(self, name: str) -> Allocator:
        try:
            return self._pools[name]
        except KeyError:
            raise NotFound(f"no IPAM pool for network {name!r}",
                           ja=f"ネットワーク {name!r} の IPAM プールはありません") from None

    def __contains__(self, name: object) -> bool:
        return name in self._pools

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._pools))

    def __len__(self) -> int:
        return len(self._pools)

    def allocate(
        self, network: str, owner: str, requested: str | IPAddress | None = None
    ) -> IPAddress:
        return self.pool(network).allocate(owner, requested)

    def release(self, network: str, owner: str) -> IPAddress | None:
        return self.pool(network).release(owner)

    def lookup(self, network: str, owner: str) -> IPAddress | None:
        return self.pool(network).lookup(owner)

    def close(self) -> None:
        for name in list(self):
            self.remove_pool(name)
