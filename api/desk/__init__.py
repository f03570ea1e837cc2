"""The disputes desk: web pages for the people who answer a subject's claim or a regulator's letter (`/desk/`)."""
