"""HTTP for Microsoft, with explicit trust: a requests.Session for MSAL (the token endpoint) and a
urllib3 pool for Graph calls (activation/graph/http_client.py says why)."""

from __future__ import annotations

import os

import certifi
import requests
import urllib3
from requests.adapters import HTTPAdapter

USER_AGENT = "day-one-activation/0.1 (+activation.graph)"
# Connections kept per host. A portal worker runs several request threads (gunicorn gthread), and each
# activation's account steps make up to three Graph calls at once (enable + the pre-TAP reads):
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


def build_graph_pool(ca_bundle: str | None) -> urllib3.PoolManager:
    """Graph's connection pool: TLS trust is exactly `ca_bundle` (a file or a directory), or the same
    CA store requests uses by default (certifi's), never the environment's; no proxy; keep-alive."""
    if ca_bundle and os.path.isdir(ca_bundle):
        trust = {"ca_cert_dir": ca_bundle}
    else:
        trust = {"ca_certs": ca_bundle or certifi.where()}
    return urllib3.PoolManager(maxsize=POOL_MAXSIZE, cert_reqs="CERT_REQUIRED", **trust)
