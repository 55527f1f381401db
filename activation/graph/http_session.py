"""The one requests.Session shared by Graph calls and MSAL, with explicit trust."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

USER_AGENT = "day-one-activation/0.1 (+activation.graph)"
# Connections kept per host. A portal worker runs several request threads (gunicorn gthread), and each
# activation's account steps make up to four Graph calls at once (enable + the three pre-TAP reads):
# requests' default of 10 made a busy worker discard connections and pay a new TLS handshake for them
# ("Connection pool is full, discarding connection" in the bench under 429s).
POOL_MAXSIZE = 32


def build_http_session(ca_bundle: str | None, proxies: dict[str, str] | None = None) -> requests.Session:
    """A session whose TLS trust is exactly `ca_bundle` (or the default CA store).

    `trust_env = False` matters: with it on, requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    silently override `Session.verify` for every request, MSAL's included. It also stops proxy
    variables being read, so a proxy has to be passed in explicitly.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=POOL_MAXSIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    session.verify = ca_bundle or True
    session.headers["User-Agent"] = USER_AGENT
    if proxies:
        session.proxies.update(proxies)
    return session
