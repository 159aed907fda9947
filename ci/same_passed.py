"""Compare the passed test ids of two runs (directories of junit XML files): the kernel suite
as root and as an unprivileged user must pass the same tests. Exit 1, listing the
differences, when they do not."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def passed(directory: str) -> set[str]:
    ids = set()
    for path in sorted(Path(directory).glob("*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            if any(child.tag in ("failure", "error", "skipped") for child in case):
                continue
            ids.add(f"{path.stem}::{case.get('classname')}::{case.get('name')}")
    return ids


def main(root_dir: str, user_dir: str) -> int:
    as_root, as_user = passed(root_dir), passed(user_dir)
    if not as_root:
        print(f"no passed tests found in {root_dir}", file=sys.stderr)
        return 1
    only_root, only_user = sorted(as_root - as_user), sorted(as_user - as_root)
    for test in only_root:
        print(f"passed as root only: {test}")
    for test in only_user:
        print(f"passed rootless only: {test}")
    if only_root or only_user:
        return 1
    print(f"rootless run: the same {len(as_root)} tests passed as with root")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
