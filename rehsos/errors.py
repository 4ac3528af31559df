"""What domain functions raise when a request or an incoming event cannot be carried out. Plain
exceptions, no HTTP and no broker: ``rehsos.api.domain_errors`` turns the first three into
answers (and :class:`Gone`), and the event consumer (``rehsos.messaging.receive``) quarantines a :class:`RefusedEvent`."""
from __future__ import annotations


class NotFound(Exception):
    """The record does not exist (HTTP 404)."""


class Gone(Exception):
    """The record existed and was deleted on purpose (HTTP 410): a deleted dossier, say."""


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


class RefusedEvent(Exception):
    """An incoming event that must never be applied (its sender may not speak for the record, or
    it answers a referral that does not exist): the consumer quarantines it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
