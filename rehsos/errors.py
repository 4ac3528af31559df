"""What domain functions raise when a request cannot be carried out. Plain exceptions, no HTTP:
``rehsos.http.domain_errors`` is the one place that turns them into answers."""
from __future__ import annotations


class NotFound(Exception):
    """The record does not exist (HTTP 404)."""


class Refused(Exception):
    """The request conflicts with the record's state (HTTP 409); ``code`` names the rule."""

    def __init__(self, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class Invalid(Exception):
    """Input that passed its schema but not the domain's rules (HTTP 422)."""

    def __init__(self, fields: dict):
        super().__init__(str(fields))
        self.fields = fields
