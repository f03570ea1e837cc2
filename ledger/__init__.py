"""The write side of the consent ledger: the facts, the rules, and the event-sourced application.

Nothing here imports a web framework or reads the clock on its own: time is passed in,
so that every decision can be replayed later exactly as it was made.
"""
