"""Render emails from templates/email/<kind>.subject.txt, <kind>.txt and <kind>.html.

HR data is untrusted: the HTML environment autoescapes, the text environment does not (plain text
needs no escaping), and the subject must come out as one line. Links are built by the caller from
ACTIVATION_PUBLIC_URL; the renderer checks that they really start there and knows nothing of requests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from activation.errors import ActivationError
from activation.mail.message import Email

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_SHARED = ("organisation_name", "support_contact", "public_url")


class EmailTemplateError(ActivationError):
    """A template is missing, uses a variable the caller did not give, or produced a bad subject."""


class EmailRenderer:
    def __init__(self, templates_dir: Path, *, public_url: str, organisation_name: str, support_contact: str) -> None:
        self._public_url = public_url.rstrip("/")
        self._shared = {
            "organisation_name": organisation_name,
            "support_contact": support_contact,
            "public_url": self._public_url,
        }
        loader = jinja2.FileSystemLoader(str(templates_dir))
        # auto_reload off, as for the portal's pages: templates change with a deploy, not while it runs,
        # so rendering does not stat every template file again.
        common: dict[str, Any] = {"loader": loader, "undefined": jinja2.StrictUndefined, "keep_trailing_newline": True,
                                  "auto_reload": False}
        self._html = jinja2.Environment(autoescape=True, **common)
        # Plain-text bodies and subjects are not HTML: escaping them would corrupt names like "O'Brien & Sons".
        self._text = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True, **common)  # noqa: S701

    def warm_up(self) -> int:
        """Compile every template in its environment (see portal.warm_up). Returns how many."""
        names = self._html.list_templates()
        for name in names:
            (self._html if name.endswith(".html") else self._text).get_template(name)
        return len(names)

    def render(self, kind: str, to: str, **context: Any) -> Email:
        if not _KIND.match(kind):
            raise EmailTemplateError(f"Email kind {kind!r} is not a valid template name.")
        clashes = sorted(set(context) & set(_SHARED))
        if clashes:
            raise EmailTemplateError(f"{kind} email: {', '.join(clashes)} come from settings, not from the caller.")
        self._check_links(kind, context)
        values = {**context, **self._shared}
        subject = self._render(self._text, f"{kind}.subject.txt", kind, values).strip()
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in subject):
            raise EmailTemplateError(f"{kind} email: the subject must be a single line without control characters.")
        text = self._render(self._text, f"{kind}.txt", kind, values)
        html = self._render(self._html, f"{kind}.html", kind, values)
        return Email(to=to, subject=subject, text=text, html=html, kind=kind)

    def _check_links(self, kind: str, context: dict[str, Any]) -> None:
        """Every `link` / `*_link` value must be an absolute URL under the configured public URL."""
        prefix = self._public_url + "/"
        for name, value in context.items():
            is_link = name == "link" or name.endswith("_link")
            if is_link and (not isinstance(value, str) or not value.startswith(prefix)):
                raise EmailTemplateError(f"{kind} email: {name} must start with the public URL {self._public_url}/.")

    @staticmethod
    def _render(environment: jinja2.Environment, name: str, kind: str, values: dict[str, Any]) -> str:
        try:
            return environment.get_template(name).render(values)
        except jinja2.TemplateNotFound:
            raise EmailTemplateError(f"{kind} email: template {name} not found.") from None
        except jinja2.UndefinedError as exc:
            # Jinja's message names the missing variable, never a value.
            raise EmailTemplateError(f"{kind} email: {name} uses a variable that was not given ({exc}).") from None
