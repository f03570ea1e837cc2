"""The one composition root: it reads the settings, opens the storage and the ledger, and hands them to the HTTP app.

Nothing else in the project knows where its database is or which master key wraps the subject
keys; `ledger`, `projections` and `api` receive what they need from here, so the layers stay
testable on their own and the `consent-ledger` command is the only thing a deployment runs.
"""
