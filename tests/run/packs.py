#!/usr/bin/env python3
"""Pack commits (checkpoint format 3, docs/checkpoint-format.md "Pack commits") for tests.

A small commit is one regular file commits/<id>: its members (each at a multiple of 64),
a JSON index and a 32-byte footer. Tests read it here without stormrun, damage one
member in place, or turn a pack into the directory commit holding the same files (a valid
commit of either layout: the manifest is the same), so that tests that edit one file of
a commit run on stores of both layouts.

  packs.py unpack STORE      every pack of STORE's rank dirs becomes a directory commit
  packs.py flip COMMIT REL   flips a bit near the end of member REL of a pack or dir commit
  packs.py members COMMIT    prints the members of a pack (path, offset, bytes)
"""
import glob
import json
import os
import shutil
import struct
import sys

MAGIC = b"SRPACK\0\3"
FOOTER = 32


def is_pack(path):
    return os.path.isfile(path) and not os.path.islink(path)


def index(path):
    """{member path: {"offset", "bytes", "xxh3"}} from the pack's index (footer checked)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < FOOTER:
        raise ValueError(f"{path}: {len(raw)} bytes, shorter than a pack's footer")
    magic, offset, length, _ = struct.unpack("<8sQQQ", raw[-FOOTER:])
    if magic != MAGIC:
        raise ValueError(f"{path}: no pack footer")
    doc = json.loads(raw[offset:offset + length])
    return {m["path"]: m for m in doc["members"]}


def member_paths(commit):
    """The relative paths of every file of a commit, a pack or a directory, sorted."""
    if is_pack(commit):
        return sorted(index(commit))
    found = []
    for base, _, files in os.walk(commit):
        found += [os.path.relpath(os.path.join(base, n), commit) for n in files]
    return sorted(found)


def read_member(commit, rel):
    """The bytes of file REL of a commit, a pack or a directory."""
    if not is_pack(commit):
        with open(os.path.join(commit, rel), "rb") as f:
            return f.read()
    m = index(commit)[rel]
    with open(commit, "rb") as f:
        f.seek(m["offset"])
        return f.read(m["bytes"])


def flip(commit, rel, back=9):
    """Flips one bit `back` bytes before the end of file REL (a pack's member or a file)."""
    if is_pack(commit):
        m = index(commit)[rel]
        pos = m["offset"] + max(m["bytes"] - back, 0)
        path = commit
    else:
        path = os.path.join(commit, rel)
        pos = max(os.path.getsize(path) - back, 0)
    with open(path, "r+b") as f:
        f.seek(pos)
        byte = f.read(1)
        f.seek(pos)
        f.write(bytes([byte[0] ^ 0x10]))


def unpack(commit):
    """Replaces pack COMMIT by a directory commit of the same name holding its members."""
    members = index(commit)
    tmp = os.path.join(os.path.dirname(commit), ".unpack_" + os.path.basename(commit))
    with open(commit, "rb") as f:
        raw = f.read()
    for rel, m in members.items():
        target = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(raw[m["offset"]:m["offset"] + m["bytes"]])
    os.unlink(commit)
    os.rename(tmp, commit)


def remove_commit(commit):
    """Removes a commit of either layout (as if it had never been renamed into place)."""
    if is_pack(commit):
        os.unlink(commit)
    else:
        shutil.rmtree(commit)


def commits(store):
    """Every commit (pack or directory) of every rank dir of STORE."""
    return sorted(p for p in glob.glob(os.path.join(store, "rank_*", "commits", "commit_*")))


def unpack_store(store):
    """Turns every pack of STORE into a directory commit; returns how many."""
    count = 0
    for commit in commits(store):
        if is_pack(commit):
            unpack(commit)
            count += 1
    return count


def main(argv):
    if len(argv) == 3 and argv[1] == "unpack":
        print(f"unpacked {unpack_store(argv[2])} pack(s)")
    elif len(argv) == 4 and argv[1] == "flip":
        flip(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "members":
        for rel, m in sorted(index(argv[2]).items(), key=lambda kv: kv[1]["offset"]):
            print(rel, m["offset"], m["bytes"])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
