"""The access log as auditors read it: one entry per read of one subject's data."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AccessEntry(BaseModel):
    """One read of one subject's data: who, when, which subject, through which route, and why."""

    model_config = ConfigDict(from_attributes=True)

    number: int = Field(description="The entry's place in the log; pass the last one seen as `after` for a next page.")
    at: datetime = Field(description="When the data were read (UTC).")
    caller: str = Field(description="The name of the token that read them.")
    subject_id: str = Field(description="The pseudonymous subject whose data were read.")
    route: str = Field(description="The operation, e.g. `GET /v1/subjects/{subject_id}/facts`.")
    purpose: str = Field(description="The purpose the caller declared in `X-Purpose`.")


class AccessLogPage(BaseModel):
    """A page of the access log, oldest first."""

    entries: list[AccessEntry]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when this page is the last one for now."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entries": [
                        {
                            "number": 7,
                            "at": "2026-03-02T09:00:00Z",
                            "caller": "disputes-team",
                            "subject_id": "cust-1001",
                            "route": "GET /v1/subjects/{subject_id}/facts",
                            "purpose": "claim CL-2026-0042: answer due 2026-04-01",
                        }
                    ],
                    "next_after": None,
                }
            ]
        }
    )
