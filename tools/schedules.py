"""A trigger's schedule and start time, checked before anything reaches Mage.

Mage rejects a bad cron expression only with "Cron expression is invalid."; these checks name the
field that is wrong. croniter (the library Mage itself validates with) loads on first use, not at
the server's start-up.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly")
_PRESET_CRON = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 1", "@monthly": "0 0 1 * *"}
"""Mage's own meaning of each repeating preset (its week starts on Monday)."""
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31 or L"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 (0 and 7 are Sunday) or SUN-SAT"),
)
MAGE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def checked_schedule(value: str) -> str:
    """A preset, or a five-field cron expression whose every field is valid and that fires at some time."""
    text = " ".join(value.split())
    if text.startswith("@"):
        if text in PRESETS:
            return text
        raise ValueError(
            f"the preset {text!r} is not one Mage schedules; use {', '.join(PRESETS)} or a cron expression"
        )
    fields = text.split(" ")
    if len(fields) != len(_FIELDS):
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week); this one has {len(fields)}"
        )
    from croniter import CroniterBadDateError, croniter

    for index, (field, (name, allowed)) in enumerate(zip(fields, _FIELDS, strict=True)):
        alone = " ".join(field if i == index else "*" for i in range(len(_FIELDS)))
        if not croniter.is_valid(alone):
            raise ValueError(
                f"the {name} field {field!r} is not valid: use {allowed}, '*', lists (1,15), ranges (1-5) "
                "or steps (*/10)"
            )
    if not croniter.is_valid(text):
        raise ValueError(f"the cron expression {text!r} is not valid")
    try:
        croniter(text, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(
            f"the cron expression {text!r} never fires: no date has that day of month in that month"
        ) from None
    return text


def checked_start_time(value: str) -> str:
    """An ISO 8601 time (UTC when it names no zone), as the UTC `YYYY-MM-DD HH:MM:SS` text Mage's own UI sends."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            "must be an ISO 8601 time such as 2026-12-01T08:00:00Z (a time without a zone is taken as UTC)"
        ) from None
    return mage_time(moment)


def mage_time(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(MAGE_TIME_FORMAT)


Schedule = Annotated[
    str | None,
    Field(max_length=100, description="Cron (minute hour day-of-month month day-of-week, UTC) or @once, @hourly, …"),
    AfterValidator(lambda v: None if v is None else checked_schedule(v)),
]
StartTime = Annotated[
    str | None,
    Field(max_length=64, description="ISO 8601; no runs before it (UTC if no zone)"),
    AfterValidator(lambda v: None if v is None else checked_start_time(v)),
]


def next_fire(schedule: str | None, start_time: datetime | None, now: datetime) -> datetime | None:
    """When Mage's scheduler fires a repeating schedule next (never before `start_time`); None for `@once`."""
    expression = _PRESET_CRON.get(schedule or "", schedule)
    if expression is None or expression.startswith("@"):
        return None
    from croniter import croniter

    after = max(now, start_time - timedelta(seconds=1)) if start_time else now
    fire: datetime = croniter(expression, after).get_next(datetime)
    return fire
