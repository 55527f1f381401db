"""The one requests.Session shared by Graph calls and MSAL, with explicit trust."""

from __future__ import annotations

import requests

USER_AGENT = "day-one-activation/0.1 (+activation.graph)"


def build_http_session(ca_bundle: str | None, proxies: dict[str, str] | None = None) -> requests.Session:
    """A session whose TLS trust is exactly `ca_bundle` (or the default CA store).

    `trust_env = False` matters: with it on, requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    silently override `Session.verify` for every request, MSAL's included. It also stops proxy
    variables being read, so a proxy has to be passed in explicitly.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle or True
    session.headers["User-Agent"] = USER_AGENT
    if proxies:
        session.proxies.update(proxies)
    return session
