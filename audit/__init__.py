"""Proof that the history shown is the history recorded, checkable by outsiders without trusting our servers.

A ledger that is evidence in a dispute is only as good as the reason to believe it was not
rewritten afterwards. This package gives that reason the way Certificate Transparency does:
every stored event, in notification-log order, is a leaf of an append-only Merkle tree hashed
as in RFC 9162 (section 2.1); the ledger signs the tree's size and root from time to time as a
C2SP checkpoint (a signed note); and anyone holding an export of the log and the ledger's public
key can recompute the tree with no access to our database or servers, check every signature,
check that each checkpoint extends the one before it, and find the first event that does not
match. Inclusion and consistency proofs (RFC 9162 sections 2.1.3 and 2.1.4) let an auditor
check one event, or that the log only grew, without the whole export.

It is a package of its own, between the read side and the HTTP edge, because it reads the
ledger's stored bytes (never its meaning) and must not depend on anything above it: the
offline verifier (`audit.verify`) imports nothing from the ledger at all.
"""
