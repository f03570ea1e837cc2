"""The HTTP edge of the consent ledger: `api.app.create_app(ledger)`."""
