"""The start-up rules for staging and production: every refusal names the setting and the fix.

Staging has every production rule but lets the Microsoft endpoints be any https host (a test tenant,
or the emulator trusted through ACTIVATION_CA_BUNDLE); production also refuses every loopback spelling.
"""

from __future__ import annotations

import ipaddress
import socket
import zlib
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from activation.errors import ConfigurationError

if TYPE_CHECKING:
    from activation.config import Settings

MIN_SECRET_KEY_LENGTH = 32
# Microsoft's global and national clouds (learn.microsoft.com: "National cloud deployments").
MICROSOFT_HOSTS = {
    "ACTIVATION_AUTHORITY_HOST": frozenset({"login.microsoftonline.com", "login.microsoftonline.us",
                                            "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"}),
    "ACTIVATION_GRAPH_URL": frozenset({"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us",
                                       "microsoftgraph.chinacloudapi.cn"}),
}
KEY_ADVICE = (
    "set ACTIVATION_SECRET_KEY (at least 32 random bytes, e.g. from `python -c 'import secrets; "
    "print(secrets.token_urlsafe(48))'`) in the environment or in a file named by ACTIVATION_SECRET_KEY_FILE"
)


def validate_strict(settings: Settings) -> None:
    env = settings.env
    if not secret_key_is_strong(settings.secret_key):
        raise ConfigurationError(f"ACTIVATION_SECRET_KEY is missing or weak for ACTIVATION_ENV={env}: {KEY_ADVICE}.")
    if urlparse(settings.portal.public_url).scheme != "https":
        raise ConfigurationError(
            f"ACTIVATION_PUBLIC_URL must use https in {env}: set it to the address starters open, "
            "e.g. https://activate.contoso.com (TLS ends at your proxy)."
        )
    _check_mail(settings)
    for name, url in (("ACTIVATION_AUTHORITY_HOST", settings.microsoft.authority_host),
                      ("ACTIVATION_GRAPH_URL", settings.microsoft.graph_url)):
        parsed = urlparse(url)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ConfigurationError(
                f"{name}={url!r} must be an https URL in {env}, e.g. https://login.microsoftonline.com "
                "or https://graph.microsoft.com."
            )
        if settings.is_production and is_loopback_host(parsed.hostname):
            raise ConfigurationError(
                f"{name} points at {parsed.hostname}: the local emulator is never used in production. "
                "Set it to Microsoft's endpoint, or use ACTIVATION_ENV=staging with ACTIVATION_CA_BUNDLE "
                "for a test tenant."
            )
        if settings.is_production and parsed.hostname.rstrip(".").lower() not in MICROSOFT_HOSTS[name]:
            raise ConfigurationError(
                f"{name} host {parsed.hostname!r} is not a Microsoft cloud endpoint; production uses one of "
                f"{', '.join(sorted(MICROSOFT_HOSTS[name]))}. For a test tenant or the emulator use "
                "ACTIVATION_ENV=staging."
            )


def _check_mail(settings: Settings) -> None:
    mail, env = settings.mail, settings.env
    if mail.backend == "outbox":
        raise ConfigurationError(
            f"ACTIVATION_MAIL_BACKEND=outbox only stores mail locally; {env} needs "
            "ACTIVATION_MAIL_BACKEND=smtp or graph."
        )
    if mail.backend != "smtp" or mail.smtp_security != "none":
        return
    if not mail.smtp_allow_plain_loopback:
        raise ConfigurationError(
            f"ACTIVATION_SMTP_SECURITY=none sends mail without TLS; {env} refuses it. Set "
            "ACTIVATION_SMTP_SECURITY=starttls or ssl, or, for a relay on this host only, "
            "ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK=true."
        )
    if not is_loopback_host(mail.smtp_host):
        raise ConfigurationError(
            f"ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK allows plain SMTP only to this host, not to "
            f"{mail.smtp_host!r}: set ACTIVATION_SMTP_HOST=127.0.0.1 or use ACTIVATION_SMTP_SECURITY=starttls."
        )


def secret_key_is_strong(key: str) -> bool:
    """Long enough, varied, not a repeated pattern, and does not compress away (a cheap entropy test)."""
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 10:
        return False
    if any(key == (key[:period] * (len(key) // period + 1))[:len(key)] for period in range(1, len(key) // 2 + 1)):
        return False
    return len(zlib.compress(key.encode("utf-8"), 9)) >= 0.75 * len(key)


def is_loopback_host(host: str) -> bool:
    """Every spelling of this machine: localhost(.), *.localhost, 127.x, 0.0.0.0, ::1, ::ffff:127.0.0.1, 127.1."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.inet_aton(name))  # 127.1, 2130706433, 0x7f.1
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified
