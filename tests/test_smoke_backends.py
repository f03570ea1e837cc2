from given import consented, published

from ledger.application import ConsentLedger


def test_a_consent_is_recorded_and_read_back_on_every_backend(ledger: ConsentLedger) -> None:
    published(ledger)
    receipt = consented(ledger, "u-1")
    facts = ledger.subject_facts("u-1")  # type: ignore[arg-type]
    assert receipt.event_type == "ConsentGranted"
    assert facts[-1].fields["evidence"] == "ip=10.0.0.7 device=android"
