"""Exceptions of the canopy package.

Every failure of the SDK is a :class:`canopy.Error` carrying the status code
(``code``, the name such as ``"PERMISSION_DENIED"``; ``code_number``, its
gRPC/absl number) and the message. Each code has its own subclass, e.g.
:class:`PermissionDenied`; some also derive from the matching built-in
exception (``DeadlineExceeded`` is a ``TimeoutError``, ``Unimplemented`` a
``NotImplementedError``, ``InvalidArgument`` a ``ValueError``).
"""

from __future__ import annotations


class Error(Exception):
    """A Canopy operation failed: ``code`` and ``message`` say why."""

    code: str = "UNKNOWN"
    code_number: int = 2

    def __init__(self, message: str = "") -> None:
        super().__init__(f"{self.code}: {message}" if message else self.code)
        self.message = message


class Cancelled(Error):
    code, code_number = "CANCELLED", 1


class Unknown(Error):
    code, code_number = "UNKNOWN", 2


class InvalidArgument(Error, ValueError):
    code, code_number = "INVALID_ARGUMENT", 3


class DeadlineExceeded(Error, TimeoutError):
    code, code_number = "DEADLINE_EXCEEDED", 4


class NotFound(Error):
    code, code_number = "NOT_FOUND", 5


class AlreadyExists(Error):
    code, code_number = "ALREADY_EXISTS", 6


class PermissionDenied(Error):
    code, code_number = "PERMISSION_DENIED", 7


class ResourceExhausted(Error):
    code, code_number = "RESOURCE_EXHAUSTED", 8


class FailedPrecondition(Error):
    code, code_number = "FAILED_PRECONDITION", 9


class Aborted(Error):
    code, code_number = "ABORTED", 10


class OutOfRange(Error):
    code, code_number = "OUT_OF_RANGE", 11


class Unimplemented(Error, NotImplementedError):
    code, code_number = "UNIMPLEMENTED", 12


class Internal(Error):
    code, code_number = "INTERNAL", 13


class Unavailable(Error, ConnectionError):
    code, code_number = "UNAVAILABLE", 14


class DataLoss(Error):
    code, code_number = "DATA_LOSS", 15


class Unauthenticated(Error):
    code, code_number = "UNAUTHENTICATED", 16


_BY_NUMBER = {cls.code_number: cls for cls in Error.__subclasses__() if cls is not Unknown}
_BY_NUMBER[2] = Unknown


def from_status(code_number: int, message: str) -> Error:
    """The exception for a status code (absl/gRPC number) and message."""
    return _BY_NUMBER.get(code_number, Unknown)(message)
