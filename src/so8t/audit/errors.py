"""Errors of the audit store: each names the problem, so callers (CLI, agent, web app) can show it as is."""


class AuditError(Exception):
    """Base class: anything the audit store refuses or cannot do."""


class InvalidRecordError(AuditError, ValueError):
    """A record to append is malformed (bad decision value, bad JSON, wrong type); nothing was written."""


class UnknownRecordError(AuditError, LookupError):
    """A request id, identity or policy version that the store does not hold."""


class ReviewError(AuditError):
    """A review that cannot be recorded: the request was not escalated or was already reviewed."""


class NotAnAuditDatabaseError(AuditError):
    """The file is not SQLite, belongs to another application, or has a newer schema; it was left untouched."""


class CorruptDatabaseError(AuditError):
    """SQLite reports the file as damaged; the store aborted without writing."""


class CheckpointError(AuditError):
    """A checkpoint file or HMAC key that cannot be read or used."""


class VerificationError(AuditError):
    """The chain does not verify, so the requested operation (e.g. signing a checkpoint) was refused."""
