"""RFC 9162 Merkle tree hashes, proofs and their verification, with no storage of their own.

Everything here is the arithmetic of RFC 9162 section 2.1 (the tree of RFC 6962 section 2.1,
unchanged): leaf hash SHA-256(0x00 || data), interior hash SHA-256(0x01 || left || right), a
tree of n > 1 leaves split at k, the largest power of two smaller than n. The tree that stores
the ledger's nodes (`audit.tree`) and the offline verifier (`audit.verify`) both use it.

Why hand-written rather than `pymerkle` (7.0.0, evaluated by reading its source): its leaf and
node hashes and its roots are RFC 9162's, but its proofs are not. An inclusion proof carries
the leaf hash and a list of direction bits besides the audit path, and its consistency proof
decomposes the trees differently from RFC 9162 section 2.1.4.1 (from size 4 to 8 it gives four
hashes where the RFC gives one), so no RFC 9162 or C2SP verifier could check our proofs. It
also stores no interior nodes: a root or proof after a restart rehashes up to n leaves (kept
warm only by an in-process cache), and it has only a SQLite backend of its own file and no type
hints. The code below is short, follows the RFC's text step by step, and is tested against the
RFC 6962 test vectors and an independent verifier written in the tests from the RFC's
recursive definitions.

Leaves are numbered from 0. A perfect subtree is named `(level, index)`: it covers leaves
`[index * 2**level, (index + 1) * 2**level)`; level 0 is a leaf.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
"""SHA-256 digests: the only hash RFC 9162's SHA-256 log uses."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() (RFC 9162 section 2.1.1): the root of the empty tree."""

Node = tuple[int, int]
"""A perfect subtree as (level, index): it covers leaves [index << level, (index + 1) << level)."""


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d) (RFC 9162 section 2.1.1); the 0x00 keeps leaves apart from nodes."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1): the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1): where RFC 9162 section 2.1.1 divides a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[Node]:
    """The maximal aligned perfect subtrees that cover leaves [start, end), left to right.

    For start 0 these are the subtrees whose roots a log must keep to grow (one per set bit
    of `end`); for any range they are its compact range, the fewest nodes that cover it.
    """
    nodes: list[Node] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees of strictly decreasing size: H(p1, H(p2, ... H(pk-1, pk))).

    This is MTH of a range that RFC 9162's recursion produces (its left part is the largest
    perfect subtree, its right part recurses), given the roots of its perfect subtrees.
    """
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def range_hash(start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    """MTH(D[start:end]) for a range of RFC 9162's recursion, from the stored roots of its perfect subtrees."""
    return fold([nodes[n] for n in perfect_subtrees(start, end)])


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PATH(index, D[size]) (RFC 9162 section 2.1.3.1), leaf first.

    PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k, and
    PATH(m - k, D[k:n]) : MTH(D[0:k]) otherwise; PATH(0, {d}) = {}.
    """
    if not 0 <= index < size:
        msg = f"leaf {index} is not in a tree of {size} leaves"
        raise ValueError(msg)
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PROOF(old, D[new]) (RFC 9162 section 2.1.4.1), deepest first.

    PROOF(m, D[n]) = SUBPROOF(m, D[n], true); SUBPROOF(m, D[m], true) = {},
    SUBPROOF(m, D[m], false) = {MTH(D[m])}; for m <= k, SUBPROOF(m, D[0:k], b) : MTH(D[k:n]),
    and otherwise SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]). From the empty tree, or to a
    tree of the same size, the proof is empty.
    """
    if not 0 <= old <= new:
        msg = f"no consistency proof from {old} leaves to {new}: a log only grows"
        raise ValueError(msg)
    if old in (0, new):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, whole_old_tree = 0, new, True
    m = old
    while m != end - start:
        k = split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Every stored perfect subtree that the MTHs of these ranges are computed from."""
    return {node for start, end in ranges for node in perfect_subtrees(start, end)}


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether `path` proves leaf hash `leaf` is leaf `index` of the tree of `size` leaves with `root`.

    The algorithm of RFC 9162 section 2.1.3.2, step by step.
    """
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in path) or len(root) != HASH_SIZE:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> bool:
    """Whether `path` proves the tree of `new` leaves with `new_root` extends the one of `old` with `old_root`.

    The algorithm of RFC 9162 section 2.1.4.2, step by step; as in that section's callers (and
    transparency-dev/merkle), the proof from the empty tree or to a tree of the same size is
    empty, and then the roots alone must agree.
    """
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE or any(len(p) != HASH_SIZE for p in path):
        return False
    if not 0 <= old <= new:
        return False
    if old == new:
        return not path and old_root == new_root
    if old == 0:
        return not path and old_root == EMPTY_ROOT
    if not path:
        return False
    roots = _roots_from_consistency(old, new, [old_root, *path] if old & (old - 1) == 0 else list(path))
    return roots == (old_root, new_root)


def _roots_from_consistency(old: int, new: int, hashes: list[bytes]) -> tuple[bytes, bytes] | None:
    """Steps 3 to 7 of RFC 9162 section 2.1.4.2: the two roots a proof leads to, or None if it is too long.

    `hashes` already starts with the old root when `old` is an exact power of two (step 2).
    """
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return (fr, sr) if sn == 0 else None


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): all a log needs to grow and hash.

    Appending a leaf merges equal-sized subtrees from the right, as in the "compact range" of
    transparency-dev/merkle; every subtree completed on the way is reported, so a store can keep
    the nodes that proofs are later built from. Memory stays at one hash per set bit of size.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start from the roots of `perfect_subtrees(0, size)`, left to right."""
        if size < 0 or len(hashes) != size.bit_count() or any(len(h) != HASH_SIZE for h in hashes):
            msg = f"a tree of {size} leaves has {max(size, 0).bit_count()} perfect subtrees of {HASH_SIZE} bytes"
            raise ValueError(msg)
        self.size = size
        self._hashes = list(hashes)
        self._levels = [level for level, _ in perfect_subtrees(0, size)]

    @property
    def hashes(self) -> list[bytes]:
        """The roots of the perfect subtrees, left to right (largest first)."""
        return list(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Add a leaf hash; answer every perfect subtree it completes, the leaf itself first."""
        completed = [((0, self.size), leaf)]
        self._push(0, leaf, completed)
        return completed

    def add(self, leaf: bytes) -> None:
        """Add a leaf hash, as `append` does, for a caller that keeps no nodes (a verifier): nothing reported.

        `_push` at level 0, written out: a verifier calls this once per event of the whole log.
        """
        levels, hashes, level, h = self._levels, self._hashes, 0, leaf
        while levels and levels[-1] == level:
            levels.pop()
            h = hashlib.sha256(b"\x01" + hashes.pop() + h).digest()
            level += 1
        levels.append(level)
        hashes.append(h)
        self.size += 1

    def append_subtree(self, level: int, root: bytes) -> None:
        """Add a whole perfect subtree of 2**level leaves (its left edge must fall on a multiple of its size)."""
        if self.size % (1 << level) or len(root) != HASH_SIZE:
            msg = f"a subtree of 2**{level} leaves cannot start at leaf {self.size}"
            raise ValueError(msg)
        self._push(level, root, None)

    def _push(self, level: int, h: bytes, completed: list[tuple[Node, bytes]] | None) -> None:
        index = self.size >> level
        self.size += 1 << level
        while self._levels and self._levels[-1] == level:
            self._levels.pop()
            h = node_hash(self._hashes.pop(), h)
            level += 1
            index >>= 1
            if completed is not None:
                completed.append(((level, index), h))
        self._levels.append(level)
        self._hashes.append(h)

    def root(self) -> bytes:
        """MTH(D[0:size]) (RFC 9162 section 2.1.1)."""
        return fold(self._hashes)
