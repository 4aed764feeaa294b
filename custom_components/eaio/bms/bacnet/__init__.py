"""BACnet/IP: a client on the bacpypes3 stack (discovery, object lists, batched reads, COV
with renewal and polling fallback, writes at a priority with relinquish)."""

from .client import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PORT,
    DEFAULT_PRIORITY,
    BacnetClient,
    Callback,
    CovSubscription,
    Override,
    normalize_address,
)
from .cov import CovWatcher, renew_interval
from .objects import (
    ABBREVIATIONS,
    BacnetError,
    BacnetObject,
    DiscoveredDevice,
    ObjectId,
    ObjectListResult,
    ReadResult,
    Value,
    format_object_id,
    parse_object_id,
    to_python,
)

__all__ = [
    "ABBREVIATIONS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_PORT",
    "DEFAULT_PRIORITY",
    "BacnetClient",
    "BacnetError",
    "BacnetObject",
    "Callback",
    "CovSubscription",
    "CovWatcher",
    "DiscoveredDevice",
    "ObjectId",
    "ObjectListResult",
    "Override",
    "ReadResult",
    "Value",
    "format_object_id",
    "normalize_address",
    "parse_object_id",
    "renew_interval",
    "to_python",
]
