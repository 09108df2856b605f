"""Parse and format the timestamps the vendor APIs exchange."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_DIGITS = re.compile(r"^-?\d+$")
# Vendor examples write single-digit hours ("2017-09-15T3:59:59"); pad them before parsing.
_SHORT_HOUR = re.compile(r"T(\d)(?=:)")


def parse_timestamp(value: str | datetime) -> int:
    """Return epoch milliseconds for an ISO-8601 string, epoch milliseconds or an aware datetime.

    :param value: the timestamp; naive values are taken as UTC.
    :raises ValueError: if the value is not a timestamp.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if not text:
            raise ValueError("empty timestamp")
        if _DIGITS.match(text):
            return int(text)
        text = _SHORT_HOUR.sub(lambda m: "T0" + m.group(1), text)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


def iso_ms(ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

    :param ms: epoch milliseconds.
    """
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def iso_seconds(ms: int) -> str:
    """Format epoch milliseconds as ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds).

    :param ms: epoch milliseconds.
    """
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
