"""One router per resource, each mounted under `/v1`."""
