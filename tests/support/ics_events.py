"""Reads an iCalendar file with Python's `icalendar` package and prints what the
calendar tests check, as JSON: the calendar's name, its time zones and each event.

Each event's start is read twice: as `icalendar` reads it (its TZID looked up in the
IANA database), and in the time zone built from the file's own VTIMEZONE alone
(`to_tz(lookup_tzid=False)`), so that a wrong VTIMEZONE shows as a different offset.
"""
import json
import sys
from datetime import timedelta

import icalendar

raw = open(sys.argv[1], "rb").read()
cal = icalendar.Calendar.from_ical(raw)
own = {}
for tz in cal.walk("VTIMEZONE"):
    own[str(tz["TZID"])] = tz.to_tz(lookup_tzid=False)

events = []
for ev in cal.walk("VEVENT"):
    start = ev.decoded("DTSTART")
    tzid = ev["DTSTART"].params.get("TZID")
    in_own = None
    if tzid is not None:
        local = start.replace(tzinfo=None)
        in_own = local.replace(tzinfo=own[tzid])
    alarms = []
    for a in ev.walk("VALARM"):
        trigger = a.decoded("TRIGGER")
        alarms.append(int(trigger.total_seconds()))
    events.append(
        {
            "uid": str(ev["UID"]),
            "sequence": int(ev.get("SEQUENCE", 0)),
            "status": str(ev.get("STATUS", "")),
            "summary": str(ev["SUMMARY"]),
            "description": str(ev.get("DESCRIPTION", "")),
            "url": str(ev["URL"]) if "URL" in ev else None,
            "tzid": tzid,
            "start_local": start.replace(tzinfo=None).isoformat(),
            "start_offset": int(start.utcoffset().total_seconds()),
            "own_offset": int(in_own.utcoffset().total_seconds()) if in_own else None,
            "start_utc": (start - start.utcoffset()).replace(tzinfo=None).isoformat() + "Z",
            "alarms": sorted(alarms),
        }
    )
print(
    json.dumps(
        {
            "name": str(cal.get("X-WR-CALNAME", "")),
            "timezones": sorted(own),
            "events": events,
        }
    )
)
