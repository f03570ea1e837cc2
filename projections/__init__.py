"""The read side: tables kept up to date from the ledger's log, answering questions by index.

Every answer comes from rows written by `eventsourcing.projection` with tracking (the rows
and the log position they reflect commit together, exactly once), never from replaying a
subject's events on request. The rules that judge those rows are the ledger's own
(`ledger.rules`), so the read side cannot disagree with what the write side enforces.
"""
