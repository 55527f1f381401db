"""Checks on one row at a time: mapping, required values, formats, lengths, dates, codes, emails.

A RowChecker lives for one validation run; its caches (parsed dates, time zones, repeated strings)
keep 100,000-row files fast and compact without any module-level state.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Collection, Mapping
from datetime import date, datetime
from types import MappingProxyType
from typing import NamedTuple

from activation.provisioning.countries import ISO_3166_ALPHA2
from activation.provisioning.emails import check_email
from activation.provisioning.mapping import ISO_8601, ISO_DATE_FORMAT, MappingProfile
from activation.provisioning.readers import SourceRow
from activation.provisioning.records import (
    ACTIVE,
    HR_STATUSES,
    MAPPABLE_FIELDS,
    REQUIRED_FIELDS,
    TERMINATED,
    HrRecord,
    display_name_for,
    new_record,
)

MAX_LENGTHS: Mapping[str, int] = MappingProxyType({
    "employee_id": 64,
    "given_name": 64,
    "family_name": 64,
    "preferred_name": 64,
    "personal_email": 254,
    "mobile": 32,
    "manager_employee_id": 64,
    "department": 128,
    "job_title": 128,
    "company": 128,
    "country": 2,
    "usage_location": 2,
    "preferred_language": 35,
    "time_zone": 64,
    "worker_type": 64,
    "hr_status": 16,
    "start_date": 32,
    "end_date": 32,
    "display_name": 256,
    "user_name": 113,
    "cost_center": 128,
    "division": 128,
    "street_address": 256,
    "locality": 128,
    "postal_code": 32,
    "work_phone": 32,
})
# C0/C1 controls, DEL, line/paragraph separators, zero-width and bidi controls, BOM.
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
EMPLOYEE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
PHONE = re.compile(r"\+?[0-9]{6,15}")
_LIMITS = tuple((name, MAX_LENGTHS[name]) for name in MAPPABLE_FIELDS)
# A sign-in name from HR: a UPN, or its part before @ (the configured domain is added).
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._'-]{0,63}(?:@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)?")


class Problem(NamedTuple):
    field: str
    value: str
    reason: str


class RowOutcome(NamedTuple):
    record: HrRecord | None
    employee_id: str
    problems: list[Problem]
    notes: list[Problem]  # accepted, but reported as warnings


class RowChecker:
    def __init__(self, mapping: MappingProfile, *, known_ids: Collection[str], today: date) -> None:
        self._mapping = mapping
        self._known_ids = known_ids
        self._today = today
        self._columns = {column: rule.field for rule in mapping.rules for column in rule.columns}
        self._column_of = {rule.field: rule.column for rule in mapping.rules}
        self._date_formats = {name: mapping.date_formats(name) for name in ("start_date", "end_date")}
        mapped = {rule.field for rule in mapping.rules}
        # A field no rule fills is always empty, so it can never be too long.
        self._limits = tuple((name, limit) for name, limit in _LIMITS if name in mapped)
        self._dates: dict[tuple[str, str], date | None] = {}
        self._countries: dict[str, str | None] = {}  # cell value -> code, None when not a country
        self._zones: dict[str, bool] = {}  # cell value -> is an IANA time zone
        self._all_zones: frozenset[str] | None = None
        self._pool: dict[str, str] = {}

    def check(self, row: SourceRow) -> RowOutcome:
        if row.defect is not None:
            values = self._mapping.to_canonical(row.values)
            return RowOutcome(None, values.get("employee_id", ""), [Problem("(row)", "", row.defect)], [])
        problems: list[Problem] = []
        raw = row.values
        joined = " ".join(raw.values())
        if not joined.isprintable() and UNSAFE_CHARACTERS.search(joined):  # isprintable: the fast path
            for column, value in raw.items():
                field = self._columns.get(column)
                hit = UNSAFE_CHARACTERS.search(value) if field is not None else None
                if hit is not None:
                    problems.append(Problem(field or column, value, (
                        f"contains the control character U+{ord(hit.group()):04X} (line break, tab or "
                        "invisible character); remove it, it could inject headers or spoof text")))
        values = self._mapping.to_canonical(raw)
        employee_id = values["employee_id"]
        if problems:
            return RowOutcome(None, employee_id, problems, [])
        notes: list[Problem] = []
        for name in REQUIRED_FIELDS:
            if not values[name]:
                problems.append(Problem(name, "", f"is required; fill in column {self._column(name)!r}"))
        if (
            values["hr_status"] == ACTIVE
            and not values["personal_email"]
            and employee_id not in self._known_ids
        ):
            notes.append(Problem("personal_email", "", (
                f"is empty: the account will be created, but no activation invite can be sent until HR fills "
                f"in column {self._column('personal_email')!r}")))
        for name, limit in self._limits:
            value = values[name]
            if len(value) > limit:
                problems.append(Problem(name, value, f"is longer than {limit} characters; shorten it"))
        if problems:
            return RowOutcome(None, employee_id, problems, notes)

        if not EMPLOYEE_ID.fullmatch(employee_id):
            problems.append(Problem("employee_id", employee_id,
                                    "may only hold letters, digits, '.', '_' and '-'; correct the id"))
        manager = values["manager_employee_id"]
        if manager:
            if manager == employee_id:
                problems.append(Problem("manager_employee_id", manager,
                                        "is the person themself; set their real manager or leave it empty"))
            elif not EMPLOYEE_ID.fullmatch(manager):
                problems.append(Problem("manager_employee_id", manager,
                                        "is not a valid employee id; correct it or leave it empty"))
        status = values["hr_status"]
        if status not in HR_STATUSES:
            problems.append(Problem("hr_status", status, (
                "must be 'active' or 'terminated'; fix the value or map it under "
                f"[fields.hr_status.values] in {self._mapping.source}")))
        start = self._date("start_date", values["start_date"], problems)
        end = self._date("end_date", values["end_date"], problems) if values["end_date"] else None
        if start is not None and end is not None and end < start:
            problems.append(Problem("end_date", values["end_date"],
                                    f"is before start_date {start.isoformat()}; correct one of the dates"))
        country = self._country("country", values["country"], problems)
        usage_location = self._country("usage_location", values["usage_location"], problems)
        time_zone = values["time_zone"]
        if time_zone and not self._is_time_zone(time_zone):
            problems.append(Problem("time_zone", time_zone,
                                    "is not an IANA time zone (e.g. Europe/Berlin); correct it"))
        language = values["preferred_language"]
        if language and not LANGUAGE_TAG.fullmatch(language):
            problems.append(Problem("preferred_language", language,
                                    "is not a language tag like 'en' or 'en-GB'; correct it"))
        email = values["personal_email"]
        if email:
            verdict = check_email(email)
            if verdict.problem is not None:
                problems.append(Problem("personal_email", email, verdict.problem))
            else:
                email = verdict.normalised
                if verdict.note is not None:
                    notes.append(Problem("personal_email", email, verdict.note))
        mobile = self._phone("mobile", values["mobile"], problems)
        work_phone = self._phone("work_phone", values["work_phone"], problems)
        user_name = values["user_name"]
        if user_name and not USER_NAME.fullmatch(user_name):
            problems.append(Problem("user_name", user_name, (
                f"is not a sign-in name (letters, digits, . _ ' -, optionally @domain); correct column "
                f"{self._column('user_name')!r}")))
        if problems or start is None:
            return RowOutcome(None, employee_id, problems, notes)
        if status == ACTIVE and end is not None and end < self._today:
            status = TERMINATED  # hr_status is the effective status on `today`

        pool = self._pool
        given, family, preferred = values["given_name"], values["family_name"], values["preferred_name"]
        display = values["display_name"] or display_name_for(given, family, preferred)
        department, job_title = values["department"], values["job_title"]
        company, worker_type = values["company"], values["worker_type"]
        record = new_record((  # HrRecord field order; repeated values share one string object
            employee_id,
            given,
            family,
            preferred,
            display,
            email,
            mobile,
            manager,
            pool.setdefault(department, department),
            pool.setdefault(job_title, job_title),
            pool.setdefault(company, company),
            country,
            usage_location,
            pool.setdefault(language, language),
            pool.setdefault(time_zone, time_zone),
            pool.setdefault(worker_type, worker_type),
            start,
            end,
            pool.setdefault(status, status),
            user_name,
            pool.setdefault(values["cost_center"], values["cost_center"]),
            pool.setdefault(values["division"], values["division"]),
            values["street_address"],
            pool.setdefault(values["locality"], values["locality"]),
            values["postal_code"],
            work_phone,
            row.source_ref,
        ))
        return RowOutcome(record, employee_id, problems, notes)

    def _phone(self, field: str, value: str, problems: list[Problem]) -> str:
        if not value:
            return ""
        # Drop the separators people type ( -.()/); six replace calls are faster than one translate.
        number = (value.replace(" ", "").replace("-", "").replace(".", "")
                  .replace("(", "").replace(")", "").replace("/", ""))
        if not PHONE.fullmatch(number):
            problems.append(Problem(field, value, (
                f"is not a phone number (+ and 6-15 digits); correct column {self._column(field)!r}")))
        return number

    def _column(self, field: str) -> str:
        return self._column_of.get(field, field)

    def _date(self, field: str, value: str, problems: list[Problem]) -> date | None:
        key = (field, value)
        try:
            parsed = self._dates[key]
        except KeyError:
            parsed = self._dates[key] = _parse_date(value, self._date_formats[field])
        if parsed is None and value:
            formats = " or ".join(_format_name(f) for f in self._date_formats[field])
            column = self._column(field)
            if ISO_8601 not in self._date_formats[field] and _parse_iso_8601(value) is not None:
                reason = (f"is an ISO 8601 date and time, but {self._mapping.source} reads column {column!r} as "
                          f"{formats}; add \"{ISO_8601}\" to [fields.{field}] date_formats there")
            else:
                reason = (f"is not a real calendar date in the format {formats} (e.g. 2026-02-30 does not "
                          f"exist); correct column {column!r}")
            problems.append(Problem(field, value, reason))
        return parsed

    def _country(self, field: str, value: str, problems: list[Problem]) -> str:
        if not value:
            return ""
        try:
            code = self._countries[value]
        except KeyError:
            code = self._countries[value] = self._country_code(value)
        if code is None:
            problems.append(Problem(field, value,
                                    "is not an ISO 3166-1 alpha-2 country code (e.g. GB, DE); correct it"))
            return ""
        return code

    def _country_code(self, value: str) -> str | None:
        code = value.upper()
        return self._pool.setdefault(code, code) if code in ISO_3166_ALPHA2 else None

    def _is_time_zone(self, value: str) -> bool:
        try:
            return self._zones[value]
        except KeyError:
            if self._all_zones is None:
                self._all_zones = frozenset(zoneinfo.available_timezones())
            known = self._zones[value] = value in self._all_zones
            return known


def _format_name(fmt: str) -> str:
    return "ISO 8601 (2026-03-09, or 2026-03-09T00:00:00-05:00 with a time and offset)" if fmt == ISO_8601 else fmt


def _parse_iso_8601(value: str) -> date | None:
    """A date, or a date and time with an optional offset or Z: the calendar date as written.

    `2021-05-01T00:00:00-05:00` is 1 May in the sender's offset; converting it to UTC first would
    move some start dates by a day, so the offset is checked but not applied.
    """
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        return None
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    if value[10] not in "Tt ":
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


def _parse_date(value: str, formats: tuple[str, ...]) -> date | None:
    if not value:
        return None
    for fmt in formats:
        if fmt == ISO_8601:
            parsed = _parse_iso_8601(value)
            if parsed is not None:
                return parsed
            continue
        if fmt == ISO_DATE_FORMAT:
            if len(value) == 10 and value[4] == "-" and value[7] == "-":
                try:
                    return date.fromisoformat(value)
                except ValueError:
                    continue
            continue
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None
