// Reads iCalendar files with ical.js (Mozilla's parser, used by Thunderbird) and prints
// JSON: each event's UID, start (as a UTC instant), status and alarms, and the UTC
// instant each VTIMEZONE gives the local wall times asked about (as a calendar reads
// DTSTART;TZID=...).
// Usage: node read_ical.mjs request.json, where request.json is
//   {"files": ["a.ics", ...], "walls": ["2026-03-08T01:59:59", ...]}
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const local = (text, tz) => {
  const [date, time] = text.split("T");
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute, second] = time.split(":").map(Number);
  return ICAL.Time.fromData({ year, month, day, hour, minute, second, isDate: false }, tz);
};

const out = [];
for (const file of request.files) {
  const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
  const zones = {};
  for (const vtz of root.getAllSubcomponents("vtimezone")) {
    const tz = new ICAL.Timezone(vtz);
    zones[tz.tzid] = tz;
    ICAL.TimezoneService.register(vtz);
  }
  const instants = {};
  for (const [tzid, tz] of Object.entries(zones)) {
    instants[tzid] = request.walls.map((text) => local(text, tz).toUnixTime());
  }
  const events = root.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      start: event.startDate.toJSDate().toISOString(),
      status: vevent.getFirstPropertyValue("status"),
      sequence: vevent.getFirstPropertyValue("sequence"),
      summary: event.summary,
      alarms: vevent.getAllSubcomponents("valarm").length,
    };
  });
  ICAL.TimezoneService.reset();
  out.push({ events, instants });
}
process.stdout.write(JSON.stringify(out));
