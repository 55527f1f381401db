"""Mapping profiles: which HR column feeds which canonical field, how it is cleaned, and where it goes in SCIM.

A profile is a TOML file (see config/mapping.toml). Loading is strict: unknown keys, unknown fields,
unknown transforms and unknown SCIM targets fail with a ConfigurationError naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from activation.errors import ConfigurationError
from activation.provisioning.records import DATE_FIELDS, MAPPABLE_FIELDS, REQUIRED_FIELDS

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DEFAULT_MAPPING_PATH = CONFIG_DIR / "mapping.toml"
CSV2SCIM_MAPPING_PATH = CONFIG_DIR / "mapping-csv2scim.toml"
DEFAULT_CUSTOM_EXTENSION = "urn:ietf:params:scim:schemas:extension:dayone:1.0:User"
ISO_DATE_FORMAT = "%Y-%m-%d"
# A named date format: ISO 8601 dates and date-times with an offset (the form of Microsoft's examples).
ISO_8601 = "iso8601"

TRANSFORMS: Mapping[str, Callable[[str], str]] = MappingProxyType({
    "trim": str.strip,
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
    "collapse_spaces": lambda value: " ".join(value.split()) if "  " in value else value,
})
# Nested paths: addresses.<type>.<part> is the part of the address element of that type;
# phoneNumbers.<type> the value of the phone number of that type (like AttributeMapping.psd1).
CORE_TARGETS: frozenset[str] = frozenset(
    {"title", "preferredLanguage", "locale", "timezone", "userType", "nickName",
     "addresses.work.streetAddress", "addresses.work.locality", "addresses.work.region",
     "addresses.work.postalCode", "addresses.work.country", "phoneNumbers.work", "phoneNumbers.mobile"}
)
ENTERPRISE_TARGETS: frozenset[str] = frozenset(
    {"employeeNumber", "department", "organization", "division", "costCenter", "manager"}
)
# A row with every mappable field empty, copied for each row (a copy is cheaper than dict.fromkeys).
_EMPTY_FIELDS: MappingProxyType[str, str] = MappingProxyType(dict.fromkeys(MAPPABLE_FIELDS, ""))
UNKNOWN_COLUMN_POLICIES: frozenset[str] = frozenset({"reject", "ignore"})
# Fields a file must carry a column for (unless the profile gives a default). A personal email is
# wanted for every joiner, but files without one (Microsoft's CSV2SCIM samples) still import: the
# rows get a warning and the invite run reports them.
COLUMN_REQUIRED_FIELDS: tuple[str, ...] = REQUIRED_FIELDS

_TOP_KEYS = frozenset({"profile", "scim", "fields"})
_PROFILE_KEYS = frozenset({"name", "description", "unknown_columns", "ignored_columns", "complete", "absent_workers"})
_SCIM_KEYS = frozenset({"custom_extension", "core", "enterprise", "custom"})
_FIELD_KEYS = frozenset({"column", "transforms", "date_formats", "values", "default"})
_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}(:[A-Za-z0-9._-]+)+$")
_CUSTOM_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


# (field, first column, alternative columns, steps, value map, default): one rule as to_canonical reads it.
CompiledRule = tuple[
    str, str, tuple[str, ...], tuple[Callable[[str], str], ...], Mapping[str, str] | None, str
]


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one canonical field is read: source column(s), cleaning steps, value map, default.

    `column` may list alternatives (`["LastDayOfWork", "TerminationDate"]`): the first one that holds a
    value in a row wins, and a file needs only one of them.
    """

    field: str
    columns: tuple[str, ...]
    steps: tuple[Callable[[str], str], ...]
    values: Mapping[str, str] | None
    default: str
    date_formats: tuple[str, ...]

    @property
    def column(self) -> str:
        """The column(s) as an operator reads them in a message."""
        return " or ".join(self.columns)

    @property
    def only_trims(self) -> bool:
        """One column, `trim` as the only transform, no value map, no default."""
        return (len(self.columns) == 1 and self.steps == (str.strip,) and self.values is None
                and not self.default)


@dataclass(frozen=True, slots=True)
class MappingProfile:
    name: str
    source: str
    rules: tuple[FieldRule, ...]
    unknown_columns: str
    ignored_columns: frozenset[str]
    custom_extension: str
    scim_core: tuple[tuple[str, str], ...]
    scim_enterprise: tuple[tuple[str, str], ...]
    scim_custom: tuple[tuple[str, str], ...]
    fingerprint: str
    complete: bool = False  # files in this layout list every worker: absence is reported (absent.py)
    absent_workers: str = "report"  # or "switch_off": absent people become leavers, under the guard
    # The hot loop of to_canonical, split once per profile: a rule that only trims one column (most
    # rules) is a (field, column) pair in `trimmed`; every other rule is a CompiledRule.
    trimmed: tuple[tuple[str, str], ...] = ()
    compiled: tuple[CompiledRule, ...] = ()

    def __post_init__(self) -> None:
        trimmed = tuple((r.field, r.columns[0]) for r in self.rules if r.only_trims)
        compiled = tuple(
            (r.field, r.columns[0], r.columns[1:], r.steps, r.values, r.default)
            for r in self.rules if not r.only_trims
        )
        object.__setattr__(self, "trimmed", trimmed)
        object.__setattr__(self, "compiled", compiled)

    @property
    def mapped_columns(self) -> frozenset[str]:
        return frozenset(column for rule in self.rules for column in rule.columns)

    @property
    def required_columns(self) -> frozenset[str]:
        """Columns a file must carry (a field mapped to alternatives appears as "A or B")."""
        return frozenset(self.required_alternatives)

    @property
    def required_alternatives(self) -> dict[str, tuple[str, ...]]:
        """For each required field without a default: the label shown and the columns any one of which will do."""
        return {rule.column: rule.columns for rule in self.rules
                if rule.field in COLUMN_REQUIRED_FIELDS and not rule.default}

    @property
    def allowed_columns(self) -> frozenset[str] | None:
        """Columns a file may carry, or None when unknown columns are ignored."""
        if self.unknown_columns == "ignore":
            return None
        return self.mapped_columns | self.ignored_columns

    def date_formats(self, field: str) -> tuple[str, ...]:
        for rule in self.rules:
            if rule.field == field:
                return rule.date_formats
        return (ISO_DATE_FORMAT,)

    def to_canonical(self, values: Mapping[str, str]) -> dict[str, str]:
        """Apply column renames, transforms, value maps and defaults to one raw row."""
        out = _EMPTY_FIELDS.copy()  # unmapped fields are empty
        get = values.get
        for field, column in self.trimmed:
            out[field] = get(column, "").strip()
        for field, column, alternatives, steps, value_map, default in self.compiled:
            value = get(column, "")
            if alternatives and not value.strip():  # the first alternative holding a value wins
                for alternative in alternatives:
                    value = get(alternative, "")
                    if value.strip():
                        break
            for step in steps:
                value = step(value)
            if value_map is not None and value:
                value = value_map.get(value, value)
            out[field] = value or default
        return out



def load_mapping(path: str | Path = DEFAULT_MAPPING_PATH) -> MappingProfile:
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"mapping file {path} cannot be read ({exc.strerror}); check --mapping") from exc
    try:
        document = tomllib.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"mapping file {path} is not valid UTF-8 TOML: {exc}") from exc
    return parse_mapping(document, source=str(path), fingerprint=hashlib.sha256(raw_bytes).hexdigest())


def parse_mapping(document: Mapping[str, Any], *, source: str, fingerprint: str = "") -> MappingProfile:
    where = f"mapping file {source}"
    _check_keys(document, _TOP_KEYS, where, "")
    profile = _table(document, "profile", where)
    _check_keys(profile, _PROFILE_KEYS, where, "profile")
    unknown_columns = profile.get("unknown_columns", "reject")
    if unknown_columns not in UNKNOWN_COLUMN_POLICIES:
        raise ConfigurationError(
            f"{where}: profile.unknown_columns = {unknown_columns!r}; use \"reject\" or \"ignore\""
        )
    ignored = profile.get("ignored_columns", [])
    if not isinstance(ignored, list) or not all(isinstance(item, str) for item in ignored):
        raise ConfigurationError(f"{where}: profile.ignored_columns must be a list of column names")

    fields_table = _table(document, "fields", where)
    rules = tuple(_parse_rule(name, spec, where) for name, spec in fields_table.items())
    missing = [name for name in REQUIRED_FIELDS if name not in fields_table]
    if missing:
        raise ConfigurationError(f"{where}: required fields not mapped: {', '.join(missing)}; add [fields.<name>]")

    scim = _table(document, "scim", where)
    _check_keys(scim, _SCIM_KEYS, where, "scim")
    extension = scim.get("custom_extension", DEFAULT_CUSTOM_EXTENSION)
    if not isinstance(extension, str) or not _URN.match(extension):
        raise ConfigurationError(f"{where}: scim.custom_extension {extension!r} is not a URN (urn:...:User)")
    mapped = set(fields_table) | {"display_name"}
    return MappingProfile(
        name=str(profile.get("name", Path(source).stem)),
        source=source,
        rules=rules,
        unknown_columns=unknown_columns,
        complete=_flag(profile, "complete", where),
        absent_workers=_absent_policy(profile, where),
        ignored_columns=frozenset(ignored),
        custom_extension=extension,
        scim_core=_targets(scim, "core", mapped, where, CORE_TARGETS.__contains__),
        scim_enterprise=_targets(scim, "enterprise", mapped, where, ENTERPRISE_TARGETS.__contains__),
        scim_custom=_targets(scim, "custom", mapped, where, lambda name: bool(_CUSTOM_ATTRIBUTE.match(name))),
        fingerprint=fingerprint,
    )


def _parse_rule(field: str, spec: Any, where: str) -> FieldRule:
    if field not in MAPPABLE_FIELDS:
        raise ConfigurationError(
            f"{where}: [fields.{field}] is not a canonical field; use one of {', '.join(MAPPABLE_FIELDS)}"
        )
    if not isinstance(spec, dict):
        raise ConfigurationError(f"{where}: fields.{field} must be a table with at least `column = \"...\"`")
    _check_keys(spec, _FIELD_KEYS, where, f"fields.{field}")
    column = spec.get("column")
    columns = [column] if isinstance(column, str) else column
    if (not isinstance(columns, list) or not columns
            or not all(isinstance(c, str) and c.strip() for c in columns)):
        raise ConfigurationError(
            f"{where}: fields.{field}.column must name the source column, or list alternatives "
            "(column = [\"LastDayOfWork\", \"TerminationDate\"]: the first with a value wins)")
    names = spec.get("transforms", ["trim"])
    if not isinstance(names, list) or any(name not in TRANSFORMS for name in names):
        raise ConfigurationError(
            f"{where}: fields.{field}.transforms {names!r} is invalid; use a list of {', '.join(TRANSFORMS)}"
        )
    values = spec.get("values")
    if values is not None and (
        not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values())
    ):
        raise ConfigurationError(f"{where}: fields.{field}.values must map source values to strings")
    default = spec.get("default", "")
    if not isinstance(default, str):
        raise ConfigurationError(f"{where}: fields.{field}.default must be a string")
    formats = spec.get("date_formats", [ISO_DATE_FORMAT] if field in DATE_FIELDS else [])
    if field not in DATE_FIELDS and "date_formats" in spec:
        raise ConfigurationError(f"{where}: fields.{field}.date_formats only applies to start_date/end_date")
    if field in DATE_FIELDS and (
        not isinstance(formats, list) or not formats
        or not all(isinstance(f, str) and ("%" in f or f == ISO_8601) for f in formats)
    ):
        raise ConfigurationError(
            f"{where}: fields.{field}.date_formats must be a non-empty list of \"{ISO_8601}\" or strptime formats "
            "like \"%m/%d/%Y\""
        )
    return FieldRule(
        field=field,
        columns=tuple(c.strip() for c in columns),
        steps=tuple(TRANSFORMS[name] for name in names),
        values=MappingProxyType(dict(values)) if values is not None else None,
        default=default,
        date_formats=tuple(formats),
    )


def _targets(
    scim: Mapping[str, Any], section: str, mapped: set[str], where: str, allowed: Callable[[str], bool]
) -> tuple[tuple[str, str], ...]:
    table = scim.get(section, {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where}: scim.{section} must be a table of <SCIM attribute> = \"<field>\"")
    pairs = []
    for attribute, field in table.items():
        if not allowed(attribute):
            hint = {
                "core": ", ".join(sorted(CORE_TARGETS)),
                "enterprise": ", ".join(sorted(ENTERPRISE_TARGETS)),
            }.get(section, "a camelCase attribute name")
            raise ConfigurationError(f"{where}: scim.{section}.{attribute} is not supported; use {hint}")
        if field not in mapped:
            raise ConfigurationError(
                f"{where}: scim.{section}.{attribute} = {field!r} is not a mapped field; add [fields.{field}]"
            )
        pairs.append((attribute, field))
    return tuple(pairs)


def _flag(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where}: profile.{key} must be true or false")
    return value


def _absent_policy(profile: Mapping[str, Any], where: str) -> str:
    value = profile.get("absent_workers", "report")
    if value not in ("report", "switch_off"):
        raise ConfigurationError(
            f"{where}: profile.absent_workers = {value!r}; use \"report\" (list people missing from a complete "
            "file for review) or \"switch_off\" (treat them as leavers, under the mass-change guard)")
    return value


def _table(document: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: [{key}] must be a table")
    return value


def _check_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str, prefix: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        place = f"[{prefix}]" if prefix else "the top level"
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)} in {place}; allowed: {', '.join(sorted(allowed))}"
        )
