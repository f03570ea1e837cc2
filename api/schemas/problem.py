"""The body of every error answer: an RFC 9457 problem, with the fields a request got wrong."""

from typing import Literal

from pydantic import BaseModel, Field


class FieldError(BaseModel):
    """One part of a request that was not accepted, and why."""

    location: Literal["body", "header", "path", "query", "cookie"] = Field(
        serialization_alias="in", description="Where the part was: the JSON body, a header, the path or the query."
    )
    name: str = Field(
        description="A header or parameter name, or for the body a JSON Pointer (RFC 6901) such as `/occurred_at`."
    )
    detail: str = Field(description="What is wrong with it.")


class Problem(BaseModel):
    """RFC 9457 problem details: what went wrong, in words a person can act on."""

    type: str = Field(description="A URI naming the kind of problem; branch on it, not on `title`.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, and what to do next.")
    instance: str = Field(description="The path of the request that failed.")
    errors: list[FieldError] | None = Field(
        default=None, description="For an invalid request: every part that was not accepted."
    )
