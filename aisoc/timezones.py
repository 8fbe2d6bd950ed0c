"""Time-zone names in settings: an IANA name, checked when the settings are read.

class RotationConfig(BaseModel):
    timezone: ZoneName = "UTC"       # "Europe/Londn" fails with a message naming the setting
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


def known_zone(name: str) -> str:
    """Return ``name`` if the tz database knows it; a ValueError that says what to write otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/London)") from e
    return name


ZoneName = Annotated[str, AfterValidator(known_zone)]
"""A settings field holding an IANA time-zone name."""
