"""The six checklist items a grade is given against, as the learning guide words them.

Each item has a stable id (the pytest marker argument `checklist(ID)` of the checks that
evidence it), its title in the guide's Japanese and in English, and a hint naming the part
of the guide to reread when it fails. `ORDER` is the order in which the items build on each
other, as the guide builds a container network: a namespace, a veth pair into it, a bridge
joining the pairs, addresses from an IPAM, NAT to the outside; netlink is judged on how the
links, addresses and routes of all of them were configured, so it comes last. A check that
cannot be judged because an earlier item is broken is reported as blocked by that item.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One checklist item."""

    id: str
    title_ja: str
    title_en: str
    #: Where in the guide the knowledge lives, as the guide numbers it ("§2 Linux Bridge").
    section: str
    hint_ja: str
    hint_en: str

    def title(self, lang: str) -> str:
        return self.title_ja if lang == "ja" else self.title_en

    def hint(self, lang: str) -> str:
        return self.hint_ja if lang == "ja" else self.hint_en


ITEMS: tuple[Item, ...] = (
    Item(
        id="veth",
        title_ja="vethペアの動作原理を説明できる",
        title_en="veth pairs",
        section="§1.2 仮想ネットワークデバイス",
        hint_ja="§1.2 を読み直す: veth は2つの端を持ち、片方を名前空間へ移し、両端を up にする",
        hint_en="reread §1.2: a veth has two ends; move one into the namespace, bring both up",
    ),
    Item(
        id="bridge",
        title_ja="Linux Bridgeの役割を理解している",
        title_en="the Linux bridge",
        section="§2 Linux Bridge",
        hint_ja="§2.1–2.2 を読み直す: ホスト側の端をブリッジに master で接続し、"
        "ブリッジにゲートウェイを置く",
        hint_en="reread §2.1–2.2: enslave the host end to the bridge; "
        "the gateway address lives on it",
    ),
    Item(
        id="nat",
        title_ja="iptablesでNAT設定ができる",
        title_en="NAT with iptables",
        section="§3.2 iptables によるNAT設定",
        hint_ja="§3.2 を読み直す: サブネット発の通信に MASQUERADE、ip_forward を 1 に",
        hint_en="reread §3.2: MASQUERADE what leaves the subnet, and set net.ipv4.ip_forward to 1",
    ),
    Item(
        id="netlink",
        title_ja="netlinkを使用したネットワーク設定が実装できる",
        title_en="configuring through netlink",
        section="§5 netlink ライブラリ",
        hint_ja="§5.1–5.2 を読み直す: ip コマンドを呼ばず netlink ライブラリで"
        "リンク・アドレス・経路（ゲートウェイ経由のデフォルトルート）を設定する",
        hint_en="reread §5.1–5.2: set links, addresses and routes (the default route via the "
        "gateway) with a netlink library, not by running ip",
    ),
    Item(
        id="netns",
        title_ja="ネットワーク名前空間の操作ができる",
        title_en="network namespaces",
        section="§1.1 ネットワーク名前空間",
        hint_ja="§1.1 を読み直す: コンテナ側の設定は CNI_NETNS の名前空間の中で行う",
        hint_en="reread §1.1: configure the container's side inside the namespace CNI_NETNS names",
    ),
    Item(
        id="ipam",
        title_ja="IPアドレス管理の実装方法を理解している",
        title_en="IP address management",
        section="§4.2 IPアドレス管理",
        hint_ja="§4.2 と §8.2 を読み直す: ネットワーク・ゲートウェイ・ブロードキャストは配らない、"
        "同時の割り当てはロックで守る",
        hint_en="reread §4.2 and §8.2: never hand out network, gateway or broadcast; "
        "guard concurrent allocation with a lock",
    ),
)

BY_ID: dict[str, Item] = {item.id: item for item in ITEMS}

#: Prerequisite order: each item builds on the ones before it (see the module docstring).
ORDER: tuple[str, ...] = ("netns", "veth", "bridge", "ipam", "nat", "netlink")


def item(item_id: str) -> Item:
    """The item called `item_id`; KeyError names the valid ids."""
    try:
        return BY_ID[item_id]
    except KeyError:
        raise KeyError(f"no checklist item {item_id!r}; items are {', '.join(BY_ID)}") from None
