"""Canopy: overlay multicast for Python.

Publish messages and objects (files, buffers, model weights) to every
subscriber of a group through the local Canopy node:

- :class:`Publisher`, :class:`Subscriber`: message streams (iterate a
  subscriber for :class:`Message` and :class:`Gap` events).
- :func:`send_object`, :func:`send_file`, :class:`ObjectReceiver`: whole
  objects, verified chunk by chunk, received straight into your buffer.
- :class:`VersionPublisher`, :class:`VersionReceiver`: successive versions
  of one blob; only changed chunks travel, late joiners catch up.
- :mod:`canopy.torch`: push a ``state_dict`` to many workers and receive it
  in place (imports torch only when used).

Errors are :class:`canopy.Error` subclasses carrying the status code, e.g.
:class:`canopy.PermissionDenied`. Blocking calls release the GIL and end
with ``KeyboardInterrupt`` within a second of Ctrl-C.
"""

from canopy.errors import (Aborted, AlreadyExists, Cancelled, DataLoss, DeadlineExceeded, Error,
                           FailedPrecondition, Internal, InvalidArgument, NotFound, OutOfRange,
                           PermissionDenied, ResourceExhausted, Unauthenticated, Unavailable,
                           Unimplemented, Unknown)
from canopy.client import Gap, Message, Publisher, PublishResult, Subscriber, TlsFiles
from canopy.objects import ObjectReceiver, ReceivedObject, SentObject, send_file, send_object
from canopy.versions import PushedVersion, VersionInfo, VersionPublisher, VersionReceiver

__version__ = "0.1.0"

__all__ = [
    "Aborted", "AlreadyExists", "Cancelled", "DataLoss", "DeadlineExceeded", "Error",
    "FailedPrecondition", "Gap", "Internal", "InvalidArgument", "Message", "NotFound",
    "ObjectReceiver", "OutOfRange", "PermissionDenied", "PublishResult", "Publisher",
    "PushedVersion", "ReceivedObject", "ResourceExhausted", "SentObject", "Subscriber",
    "TlsFiles", "Unauthenticated", "Unavailable", "Unimplemented", "Unknown", "VersionInfo",
    "VersionPublisher", "VersionReceiver", "send_file", "send_object",
]
