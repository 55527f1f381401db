"""Layered, validated settings: config/default.toml, config/<env>.toml, then the environment.

Built once at start-up by `load_settings`; everything else receives the frozen result. Secrets come
only from the environment (or a `*_FILE` variant), never from TOML files.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from activation.config_strict import validate_strict
from activation.errors import ConfigurationError

ENVIRONMENTS = ("demo", "development", "test", "staging", "production")
STRICT_ENVIRONMENTS = ("staging", "production")  # every production rule applies
DEFAULT_ENVIRONMENT = "production"  # ACTIVATION_ENV unset: fail closed



@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///instance/activation.db"


@dataclass(frozen=True)
class PortalSettings:
    public_url: str = "http://127.0.0.1:5000"
    organisation_name: str = "Contoso"
    support_contact: str = "the IT service desk"
    my_security_info_url: str = "https://mysignins.microsoft.com/security-info"
    trusted_proxies: int = 0
    max_request_bytes: int = 2_000_000


@dataclass(frozen=True)
class MicrosoftSettings:
    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    ca_bundle: str = ""
    certificate_path: str = ""
    certificate_thumbprint: str = ""
    provisioning_sp_id: str = ""
    provisioning_job_id: str = ""

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_url.rstrip('/')}/.default"


@dataclass(frozen=True)
class MailSettings:
    backend: str = "outbox"
    mail_from: str = "no-reply@contoso.example"
    sender: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_security: str = "starttls"
    smtp_timeout_seconds: float = 15.0
    smtp_allow_plain_loopback: bool = False  # staging/production: plain SMTP only to a relay on this host


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""


@dataclass(frozen=True)
class MetricsSettings:
    token: str = field(default="", repr=False)  # unset: /metrics answers 404


@dataclass(frozen=True)
class QueueSettings:
    """The background job queue (activation/jobs/): where it keeps its messages and what it schedules."""

    url: str = ""  # "": per environment (SQLite in instance/ for demo/dev, immediate for test); Redis in production
    consumer_workers: int = 2
    max_attempts: int = 5
    retry_delay_seconds: float = 30.0  # first retry; each further one waits twice as long
    lease_seconds: int = 600  # a running job older than this is taken as crashed and re-queued
    mail_per_minute: int = 25  # queued mail per sender mailbox; Exchange allows about 30
    drop_folder: str = ""  # HR extracts dropped here are provisioned by the schedule; "" = off
    provision_every_minutes: int = 15
    reconcile_every_minutes: int = 10
    invites_send_every_minutes: int = 60


@dataclass(frozen=True)
class ProvisioningSettings:
    upn_domain: str = "contoso.example"
    mapping: str = "config/mapping.toml"
    # issue 12: "hold" or "provision" people whose start date is long past and who have no account
    past_start_policy: str = "hold"
    # issue 12: bulkUpload calls in flight at once, all behind the one rate pacer
    upload_concurrency: int = 16


@dataclass(frozen=True)
class PolicySettings:
    invite_lead_days: int = 7
    invite_lifetime_days: int = 14
    activation_days_before_start: int = 0
    activation_grace_days: int = 14
    otp_digits: int = 6
    otp_lifetime_minutes: int = 10
    otp_max_attempts: int = 5
    resend_cooldown_seconds: int = 60
    max_codes_per_day: int = 10  # per activation; then the service desk (activation.code_limits)
    lockout_threshold: int = 10
    tap_lifetime_minutes: int = 120
    tap_usable_once: bool = True
    password_path: bool = False
    retry_window_minutes: int = 15
    mass_change_share: float = 0.10
    mass_change_count: int = 50
    upload_rate_calls: int = 40
    upload_rate_period_seconds: float = 5.0
    account_step_lease_seconds: int = 120  # how long one request may hold an activation's account steps
    bulk_upload_daily_quota: int = 2000  # the tenant's licence: 2,000 (Entra ID P1/P2) or 6,000 (Governance)
    default_time_zone: str = "UTC"
    manager_notification: bool = True
    credential_check_first_seconds: int = 60  # issue 16: first look for a passkey/Authenticator after the TAP
    credential_check_max_seconds: int = 900  # backoff ceiling between looks


@dataclass(frozen=True)
class StaffSettings:
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 8


@dataclass(frozen=True)
class DeskSettings:
    """The service desk's guard rails (issue 16): caller verification, two people, threat mode, notices."""

    verification_methods: tuple[str, ...] = ("callback", "manager", "id_check")
    privileged_groups: tuple[str, ...] = ()  # Entra group object ids whose members need a second agent
    privileged_job_titles: tuple[str, ...] = ()  # HR job titles (case-insensitive) that need a second agent
    burst_actions_per_hour: int = 10  # alert when one agent performs more account-handing actions than this
    request_lifetime_hours: int = 24  # a pending request (second agent, manager) lapses after this
    notice_link_days: int = 7  # how long the "this wasn't me" link works


@dataclass(frozen=True)
class Settings:
    env: str = DEFAULT_ENVIRONMENT
    instance_dir: str = "instance"
    secret_key: str = field(default="", repr=False)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    microsoft: MicrosoftSettings = field(default_factory=MicrosoftSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    provisioning: ProvisioningSettings = field(default_factory=ProvisioningSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    desk: DeskSettings = field(default_factory=DeskSettings)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_strict(self) -> bool:
        """Staging and production: HTTPS, strong key, real mail, no demo pages."""
        return self.env in STRICT_ENVIRONMENTS

    def replace(self, **sections: Any) -> Settings:
        """A copy with some values changed: `settings.replace(policy={"otp_digits": 8})`."""
        changes: dict[str, Any] = {}
        for name, value in sections.items():
            current = getattr(self, name)
            if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
                changes[name] = dataclasses.replace(current, **value)
            else:
                changes[name] = value
        return dataclasses.replace(self, **changes)


SECTIONS = {f.name for f in dataclasses.fields(Settings) if f.name not in ("env", "instance_dir", "secret_key")}

# Environment variable -> (section, key). Section None means a top-level Settings field.
ENVIRONMENT_VARIABLES: dict[str, tuple[str | None, str]] = {
    "ACTIVATION_ENV": (None, "env"),
    "ACTIVATION_INSTANCE_DIR": (None, "instance_dir"),
    "ACTIVATION_DATABASE_URL": ("database", "url"),
    "ACTIVATION_PUBLIC_URL": ("portal", "public_url"),
    "ACTIVATION_TRUSTED_PROXIES": ("portal", "trusted_proxies"),
    "ACTIVATION_TENANT_ID": ("microsoft", "tenant_id"),
    "ACTIVATION_CLIENT_ID": ("microsoft", "client_id"),
    "ACTIVATION_CLIENT_CERTIFICATE": ("microsoft", "certificate_path"),
    "ACTIVATION_CLIENT_CERTIFICATE_THUMBPRINT": ("microsoft", "certificate_thumbprint"),
    "ACTIVATION_AUTHORITY_HOST": ("microsoft", "authority_host"),
    "ACTIVATION_GRAPH_URL": ("microsoft", "graph_url"),
    "ACTIVATION_CA_BUNDLE": ("microsoft", "ca_bundle"),
    "ACTIVATION_PROVISIONING_SP_ID": ("microsoft", "provisioning_sp_id"),
    "ACTIVATION_PROVISIONING_JOB_ID": ("microsoft", "provisioning_job_id"),
    "ACTIVATION_MAIL_BACKEND": ("mail", "backend"),
    "ACTIVATION_MAIL_FROM": ("mail", "mail_from"),
    "ACTIVATION_MAIL_SENDER": ("mail", "sender"),
    "ACTIVATION_SMTP_HOST": ("mail", "smtp_host"),
    "ACTIVATION_SMTP_PORT": ("mail", "smtp_port"),
    "ACTIVATION_SMTP_USERNAME": ("mail", "smtp_username"),
    "ACTIVATION_SMTP_SECURITY": ("mail", "smtp_security"),
    "ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK": ("mail", "smtp_allow_plain_loopback"),
    "ACTIVATION_REDIS_URL": ("redis", "url"),
    "ACTIVATION_QUEUE_URL": ("queue", "url"),
}

# Secrets: only from the environment, directly or from a file named by NAME_FILE.
SECRET_VARIABLES: dict[str, tuple[str | None, str]] = {
    "ACTIVATION_SECRET_KEY": (None, "secret_key"),
    "ACTIVATION_CLIENT_SECRET": ("microsoft", "client_secret"),
    "ACTIVATION_SMTP_PASSWORD": ("mail", "smtp_password"),
    "ACTIVATION_METRICS_TOKEN": ("metrics", "token"),
}
SECRET_KEYS = {(section, key) for section, key in SECRET_VARIABLES.values()}

CHOICES: dict[tuple[str | None, str], tuple[str, ...]] = {
    (None, "env"): ENVIRONMENTS,
    ("mail", "backend"): ("outbox", "smtp", "graph"),
    ("mail", "smtp_security"): ("starttls", "ssl", "none"),
}
VERIFICATION_METHODS = ("callback", "manager", "id_check")


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_dir: Path | str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build and validate Settings. Raises ConfigurationError naming the variable and the fix."""
    environ = os.environ if environ is None else environ
    config_dir = Path(config_dir) if config_dir is not None else Path(environ.get("ACTIVATION_CONFIG_DIR", "config"))
    values: dict[str | None, dict[str, Any]] = {None: {}}
    env_unset = "ACTIVATION_ENV" not in environ and "env" not in (overrides or {})
    env = environ.get("ACTIVATION_ENV", (overrides or {}).get("env", DEFAULT_ENVIRONMENT))
    _check_choice(None, "env", env, "ACTIVATION_ENV")

    for path in (config_dir / "default.toml", config_dir / f"{env}.toml"):
        if path.is_file():
            _merge_toml(values, path)
    for name, (section, key) in ENVIRONMENT_VARIABLES.items():
        if name in environ:
            values.setdefault(section, {})[key] = _coerce(section, key, environ[name], name)
    for name, (section, key) in SECRET_VARIABLES.items():
        secret = _read_secret(environ, name)
        if secret is not None:
            values.setdefault(section, {})[key] = secret
    for section_or_key, value in (overrides or {}).items():
        if isinstance(value, Mapping):
            values.setdefault(section_or_key, {}).update(value)
        else:
            values[None][section_or_key] = value

    settings = _build(values)
    if not settings.secret_key:
        settings = dataclasses.replace(settings, secret_key=_generated_secret_key(settings))
    try:
        validate(settings)
    except ConfigurationError as exc:
        if env_unset:
            raise ConfigurationError(
                f"{exc} (ACTIVATION_ENV is not set, so the production rules apply; "
                "set ACTIVATION_ENV=demo to try it out.)"
            ) from None
        raise
    return settings


def validate(settings: Settings) -> None:
    """Cross-field checks. Production refuses anything unsafe."""
    policy = settings.policy
    if not 6 <= policy.otp_digits <= 8:
        raise ConfigurationError("policy.otp_digits must be between 6 and 8; set it in config/<env>.toml.")
    if not 60 <= policy.tap_lifetime_minutes <= 480:
        raise ConfigurationError(
            "policy.tap_lifetime_minutes must be within Entra's default TAP policy range 60-480."
        )
    if not 0 < policy.mass_change_share <= 1:
        raise ConfigurationError("policy.mass_change_share must be a fraction between 0 and 1, e.g. 0.10.")
    if not 1 <= policy.credential_check_first_seconds <= policy.credential_check_max_seconds:
        raise ConfigurationError(
            "policy.credential_check_first_seconds must be at least 1 and at most credential_check_max_seconds."
        )
    if policy.upload_rate_calls < 1 or policy.upload_rate_period_seconds <= 0:
        raise ConfigurationError("policy.upload_rate_calls and upload_rate_period_seconds must be positive.")
    if policy.max_codes_per_day < 1:
        raise ConfigurationError("policy.max_codes_per_day must be at least 1 (codes per activation in 24 hours).")
    for zone_field in ("default_time_zone",):
        try:
            ZoneInfo(getattr(policy, zone_field))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"policy.{zone_field} {getattr(policy, zone_field)!r} is not an IANA time zone, e.g. Europe/London."
            ) from None
    public = urlparse(settings.portal.public_url)
    if public.scheme not in ("http", "https") or not public.netloc:
        raise ConfigurationError(
            f"ACTIVATION_PUBLIC_URL {settings.portal.public_url!r} must be an absolute http(s) URL, "
            "e.g. https://activate.contoso.com."
        )
    unknown = sorted(set(settings.desk.verification_methods) - set(VERIFICATION_METHODS))
    if unknown or not settings.desk.verification_methods:
        raise ConfigurationError(
            f"desk.verification_methods {list(settings.desk.verification_methods)!r} must be a non-empty list "
            f"drawn from {', '.join(VERIFICATION_METHODS)}."
        )
    if settings.desk.burst_actions_per_hour < 1 or settings.desk.notice_link_days < 1:
        raise ConfigurationError("desk.burst_actions_per_hour and desk.notice_link_days must be at least 1.")
    if settings.is_strict:
        validate_strict(settings)
    _validate_queue(settings)


QUEUE_SCHEMES = ("redis", "rediss", "sqlite", "memory")


def _validate_queue(settings: Settings) -> None:
    queue = settings.queue
    scheme = urlparse(queue.url).scheme if queue.url else ""
    if queue.url and scheme not in QUEUE_SCHEMES:
        raise ConfigurationError(
            f"ACTIVATION_QUEUE_URL {queue.url!r} must start with redis://, rediss://, sqlite:/// or memory:, "
            "e.g. redis://queue.internal:6379/1.")
    if settings.env not in ("demo", "development", "test") and scheme not in ("redis", "rediss"):
        raise ConfigurationError(
            f"{settings.env} needs a shared job queue: set ACTIVATION_QUEUE_URL=redis://<host>:6379/<db> "
            "(SQLite and memory queues are for demo, development and tests on one machine).")
    if queue.max_attempts < 1 or queue.retry_delay_seconds <= 0 or queue.lease_seconds < 5:
        raise ConfigurationError("[queue] max_attempts >= 1, retry_delay_seconds > 0 and lease_seconds >= 5.")
    if not 1 <= queue.mail_per_minute <= 30:
        raise ConfigurationError("[queue] mail_per_minute must be 1-30: Exchange Online allows about 30 a minute.")


def _build(values: dict[str | None, dict[str, Any]]) -> Settings:
    top = dict(values.get(None, {}))
    sections: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in SECTIONS:
            section_type = get_type_hints(Settings)[f.name]
            sections[f.name] = section_type(**values.get(f.name, {}))
    return Settings(**top, **sections)


def _merge_toml(values: dict[str | None, dict[str, Any]], path: Path) -> None:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc}). Fix the file and start again.") from None
    for section, table in data.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ConfigurationError(
                f"{path}: unknown section [{section}]. Known sections: {', '.join(sorted(SECTIONS))}."
            )
        known = _field_types(section)
        for key, value in table.items():
            if key not in known:
                raise ConfigurationError(
                    f"{path}: unknown key {key!r} in [{section}]. Known keys: {', '.join(sorted(known))}."
                )
            if (section, key) in SECRET_KEYS:
                raise ConfigurationError(
                    f"{path}: [{section}] {key} is a secret and must come from the environment, not a file."
                )
            values.setdefault(section, {})[key] = _check_type(section, key, value, f"{path} [{section}] {key}")


def _field_types(section: str | None) -> dict[str, Any]:
    if section is None:
        return get_type_hints(Settings)
    return get_type_hints(get_type_hints(Settings)[section])


def _check_type(section: str | None, key: str, value: Any, where: str) -> Any:
    expected = _field_types(section)[key]
    if typing.get_origin(expected) is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigurationError(f"{where}: expected a list of strings, got {value!r}.")
        value = tuple(value)
        expected = tuple
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigurationError(f"{where}: expected {expected.__name__}, got {value!r}.")
    _check_choice(section, key, value, where)
    return value


def _coerce(section: str | None, key: str, raw: str, name: str) -> Any:
    expected = _field_types(section)[key]
    try:
        if expected is bool:
            lowered = raw.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            value: Any = lowered in ("1", "true", "yes", "on")
        elif expected is int:
            value = int(raw)
        elif expected is float:
            value = float(raw)
        else:
            value = raw
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a valid {expected.__name__}.") from None
    _check_choice(section, key, value, name)
    return value


def _check_choice(section: str | None, key: str, value: Any, where: str) -> None:
    choices = CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigurationError(f"{where}={value!r} is not one of: {', '.join(choices)}.")


def _read_secret(environ: Mapping[str, str], name: str) -> str | None:
    file_name = environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE={file_name!r} cannot be read ({exc.strerror}).") from None
    return environ.get(name) or None


def _generated_secret_key(settings: Settings) -> str:
    """Demo/dev/test convenience: a random key kept in the instance folder. Staging/production never get one."""
    if settings.is_strict:
        return ""
    if settings.env == "test":
        return secrets.token_urlsafe(48)
    path = Path(settings.instance_dir) / "secret_key"
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
