"""The tree is RFC 9162's: published test vectors, and an independent verifier written from the RFC.

The vectors are the RFC 6962 test data that Certificate Transparency and transparency-dev/merkle
test against (testonly/constants.go, proof/verify_test.go). The independent verifier below is
written straight from the RFC's recursive definitions of MTH, PATH and PROOF (RFC 9162 sections
2.1.1, 2.1.3.1 and 2.1.4.1): it rebuilds the roots by recursion over the tree's shape, where
`audit.merkle` walks the bits of the indices as in sections 2.1.3.2 and 2.1.4.2, so the two
share no code and a mistake in one shows as a disagreement.
"""

from __future__ import annotations

import hashlib

import pytest

from audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    perfect_subtrees,
    range_hash,
    verify_consistency,
    verify_inclusion,
)

# The RFC 6962 test data (transparency-dev/merkle testonly/constants.go).
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
NODE_HASHES = {
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# (leaf numbered from 1, tree size, audit path) from transparency-dev/merkle proof/verify_test.go.
INCLUSION_VECTORS = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


# The independent verifier: RFC 9162 section 2.1's recursive definitions, nothing else.


def rfc_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) of section 2.1.1."""
    if not d:
        return rfc_hash(b"")
    if len(d) == 1:
        return rfc_hash(b"\x00" + d[0])
    k = rfc_k(len(d))
    return rfc_hash(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of section 2.1.3.1."""
    if len(d) == 1:
        return []
    k = rfc_k(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of section 2.1.4.1."""

    def subproof(m: int, d: list[bytes], *, b: bool) -> list[bytes]:
        if m == len(d):
            return [] if b else [rfc_mth(d)]
        k = rfc_k(len(d))
        if m <= k:
            return [*subproof(m, d[:k], b=b), rfc_mth(d[k:])]
        return [*subproof(m - k, d[k:], b=False), rfc_mth(d[:k])]

    return subproof(m, d, b=True)


def independent_root_from_path(m: int, n: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root PATH(m, D[n]) leads to, rebuilt by the recursion that defines PATH; None if it cannot be."""
    if n == 1:
        return None if path else leaf
    if not path:
        return None
    *inner, top = path
    k = rfc_k(n)
    if m < k:
        below = independent_root_from_path(m, k, leaf, inner)
        return None if below is None else rfc_hash(b"\x01" + below + top)
    below = independent_root_from_path(m - k, n - k, leaf, inner)
    return None if below is None else rfc_hash(b"\x01" + top + below)


def independent_inclusion_holds(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    return 0 <= index < size and independent_root_from_path(index, size, leaf, list(path)) == root


def independent_consistency_holds(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """Rebuild both roots by the recursion that defines SUBPROOF, and compare."""

    def sub(m: int, n: int, proof: list[bytes], *, b: bool) -> tuple[bytes, bytes] | None:
        if m == n:
            if b:
                return None if proof else (old_root, old_root)
            return (proof[0], proof[0]) if len(proof) == 1 else None
        if not proof:
            return None
        *inner, top = proof
        k = rfc_k(n)
        if m <= k:
            below = sub(m, k, inner, b=b)
            return None if below is None else (below[0], rfc_hash(b"\x01" + below[1] + top))
        below = sub(m - k, n - k, inner, b=False)
        if below is None:
            return None
        return rfc_hash(b"\x01" + top + below[0]), rfc_hash(b"\x01" + top + below[1])

    if m == n:
        return not proof and old_root == new_root
    if m == 0:
        return not proof and old_root == rfc_hash(b"")
    if not 0 < m < n:
        return False
    return sub(m, n, list(proof), b=True) == (old_root, new_root)


# Helpers over our code.


def grown(leaves: list[bytes]) -> tuple[CompactRange, dict[tuple[int, int], bytes]]:
    tree = CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for data in leaves:
        nodes.update(tree.append(leaf_hash(data)))
    return tree, nodes


def our_path(index: int, size: int, nodes: dict[tuple[int, int], bytes]) -> list[bytes]:
    return [range_hash(a, b, nodes) for a, b in inclusion_ranges(index, size)]


def our_proof(old: int, new: int, nodes: dict[tuple[int, int], bytes]) -> list[bytes]:
    return [range_hash(a, b, nodes) for a, b in consistency_ranges(old, new)]


MANY = [i.to_bytes(2, "big") * (i % 5) for i in range(40)]
_, MANY_NODES = grown(MANY)


# Vectors.


def test_the_empty_tree_has_the_hash_of_nothing_as_its_root() -> None:
    assert CompactRange().root() == EMPTY_ROOT == ROOTS[0]
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_every_root_of_the_rfc_6962_test_tree_is_the_published_one() -> None:
    tree = CompactRange()
    for size, data in enumerate(LEAVES, start=1):
        tree.append(leaf_hash(data))
        assert tree.root() == ROOTS[size], size


def test_every_stored_node_of_the_rfc_6962_test_tree_is_the_published_one() -> None:
    _, nodes = grown(LEAVES)
    assert {n: h.hex() for n, h in nodes.items()} == NODE_HASHES


@pytest.mark.parametrize(("leaf", "size", "expected"), INCLUSION_VECTORS)
def test_inclusion_proofs_are_the_published_ones_and_verify(leaf: int, size: int, expected: list[str]) -> None:
    _, nodes = grown(LEAVES[:size])
    path = our_path(leaf - 1, size, nodes)
    assert [h.hex() for h in path] == expected
    assert verify_inclusion(leaf_hash(LEAVES[leaf - 1]), leaf - 1, size, path, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_consistency_proofs_are_the_published_ones_and_verify(old: int, new: int, expected: list[str]) -> None:
    _, nodes = grown(LEAVES[:new])
    proof = our_proof(old, new, nodes)
    assert [h.hex() for h in proof] == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_the_independent_verifier_agrees_with_the_published_vectors() -> None:
    for size in range(9):
        assert rfc_mth(LEAVES[:size]) == ROOTS[size]
    for leaf, size, expected in INCLUSION_VECTORS:
        path = [bytes.fromhex(h) for h in expected]
        assert independent_inclusion_holds(leaf - 1, size, leaf_hash(LEAVES[leaf - 1]), path, ROOTS[size])
    for old, new, expected in CONSISTENCY_VECTORS:
        proof = [bytes.fromhex(h) for h in expected]
        assert independent_consistency_holds(old, new, ROOTS[old], ROOTS[new], proof)


# Every leaf and size up to 40, against the independent verifier.


def test_every_inclusion_proof_up_to_40_leaves_is_the_rfcs_and_verifies_independently() -> None:
    for size in range(1, len(MANY) + 1):
        root = rfc_mth(MANY[:size])
        for index in range(size):
            path = our_path(index, size, MANY_NODES)
            assert path == rfc_path(index, MANY[:size]), (index, size)
            leaf = leaf_hash(MANY[index])
            assert independent_inclusion_holds(index, size, leaf, path, root), (index, size)
            assert verify_inclusion(leaf, index, size, path, root), (index, size)


def test_every_consistency_proof_up_to_40_leaves_is_the_rfcs_and_verifies_independently() -> None:
    roots = [rfc_mth(MANY[:n]) for n in range(len(MANY) + 1)]
    for new in range(1, len(MANY) + 1):
        for old in range(new + 1):
            proof = our_proof(old, new, MANY_NODES)
            assert proof == (rfc_proof(old, MANY[:new]) if 0 < old < new else []), (old, new)
            assert independent_consistency_holds(old, new, roots[old], roots[new], proof), (old, new)
            assert verify_consistency(old, new, roots[old], roots[new], proof), (old, new)


def test_every_root_up_to_40_leaves_is_the_rfcs_whichever_way_it_is_computed() -> None:
    tree = CompactRange()
    for size, data in enumerate(MANY, start=1):
        tree.append(leaf_hash(data))
        assert tree.root() == rfc_mth(MANY[:size]) == range_hash(0, size, MANY_NODES)


def test_a_tree_resumed_from_its_compact_range_or_completed_by_a_suffix_has_the_same_root() -> None:
    for end in range(len(MANY) + 1):
        for start in range(end + 1):
            resumed = CompactRange(start, [MANY_NODES[n] for n in perfect_subtrees(0, start)])
            for level, index in perfect_subtrees(start, end):
                resumed.append_subtree(level, MANY_NODES[level, index])
            assert resumed.root() == rfc_mth(MANY[:end]), (start, end)


# Tampering. As in transparency-dev/merkle's tests, a wrong size is one that changes the tree's
# shape (twice or half): sizes of the same shape give the same path, which is why a proof is
# always checked against the size its signed checkpoint states.


def test_no_altered_inclusion_proof_verifies_with_either_verifier() -> None:
    for size in (1, 2, 3, 7, 8, 13, 32, 40):
        root = rfc_mth(MANY[:size])
        for index in range(size):
            leaf = leaf_hash(MANY[index])
            path = our_path(index, size, MANY_NODES)
            wrong = [
                (index, size, leaf, [*path, root]),
                (index, size, leaf, [root, *path]),
                (index, size, leaf_hash(b"not the leaf"), path),
                (index, size * 2, leaf, path),
                (index, size // 2, leaf, path),
                (index + 1, size, leaf, path),
                (index ^ 2, size, leaf, path),
            ]
            if path:
                wrong.append((index, size, leaf, path[:-1]))
            for i in range(len(path)):
                flipped = bytearray(path[i])
                flipped[0] ^= 8
                wrong.append((index, size, leaf, [*path[:i], bytes(flipped), *path[i + 1 :]]))
            for i_, n_, leaf_, path_ in wrong:
                assert not verify_inclusion(leaf_, i_, n_, path_, root), (index, size, i_, n_)
                if (i_, n_, leaf_) != (index, size, leaf) or path_ != path:
                    assert not independent_inclusion_holds(i_, n_, leaf_, path_, root)


def test_no_altered_consistency_proof_verifies_with_either_verifier() -> None:
    roots = [rfc_mth(MANY[:n]) for n in range(len(MANY) + 1)]
    for new in (2, 3, 5, 8, 9, 16, 31, 40):
        for old in range(1, new):
            proof = our_proof(old, new, MANY_NODES)
            wrong = [
                (old - 1, new, roots[old], roots[new], proof),
                (old + 1, new, roots[old], roots[new], proof),
                (old, new * 2, roots[old], roots[new], proof),
                (old, new // 2, roots[old], roots[new], proof),
                (old, new, roots[new], roots[old], proof),
                (old, new, roots[old], roots[new], []),
                (old, new, roots[old], roots[new], [*proof, roots[old]]),
                (old, new, roots[old], roots[new], [roots[new], *proof]),
                (old, new, roots[old], roots[new], proof[:-1]),
            ]
            for i in range(len(proof)):
                flipped = bytearray(proof[i])
                flipped[0] ^= 16
                wrong.append((old, new, roots[old], roots[new], [*proof[:i], bytes(flipped), *proof[i + 1 :]]))
            for m, n, r1, r2, p in wrong:
                assert not verify_consistency(m, n, r1, r2, p), (old, new, m, n)
                assert not independent_consistency_holds(m, n, r1, r2, p), (old, new, m, n)


def test_a_log_that_shrank_has_no_consistency_proof() -> None:
    with pytest.raises(ValueError, match="a log only grows"):
        consistency_ranges(5, 3)
    assert not verify_consistency(5, 3, ROOTS[5], ROOTS[3], [])
