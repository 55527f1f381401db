"""A starter's browser without the browser, for the benchmark: cookies, the page's CSRF token, our
Origin on posts, the proxy's headers (nginx sends X-Forwarded-Proto and X-Forwarded-For)."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import requests

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_TAP = re.compile(r'id="tap">([^<]+)<')


@dataclass
class Timings:
    """Latency samples (seconds) per step and the failures seen, merged from every thread."""

    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)

    def add(self, step: str, seconds: float) -> None:
        self.steps[step].append(seconds)  # list.append is atomic: threads share one Timings

    def requests(self) -> int:
        return sum(len(samples) for step, samples in self.steps.items() if step != "read mail")


def percentile(samples: list[float], share: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Browser:
    """One starter's browser: its own cookies, a keep-alive connection shared per client thread."""

    def __init__(self, http: requests.Session, base_url: str, public_url: str, client_ip: str,
                 timings: Timings) -> None:
        self.http = http
        self.base_url = base_url
        self.public_url = public_url
        self.timings = timings
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.headers = {"Host": public_url.split("//", 1)[1], "X-Forwarded-Proto": "https",
                        "X-Forwarded-For": client_ip}

    def _send(self, step: str, method: str, path: str, data: dict[str, str] | None = None) -> requests.Response:
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if method == "POST":
            headers["Origin"] = self.public_url
        started = time.perf_counter()
        response = self.http.request(method, f"{self.base_url}{path}", data=data, headers=headers,
                                     allow_redirects=False, timeout=60)
        self.timings.add(step, time.perf_counter() - started)
        # The portal's cookies are Secure (__Host-); we speak plain HTTP to gunicorn like nginx does,
        # so this browser keeps them itself instead of requests' jar.
        for cookie in response.cookies:
            self.cookies[cookie.name] = cookie.value
        self.http.cookies.clear()
        match = _CSRF.search(response.text)
        if match:
            self.csrf = match.group(1)
        return response

    def get(self, step: str, path: str) -> requests.Response:
        return self._send(step, "GET", path)

    def post(self, step: str, path: str, with_csrf: bool = True, **data: str) -> requests.Response:
        body = {"csrf_token": self.csrf, **data} if with_csrf else dict(data)
        return self._send(step, "POST", path, body)


def tap_on(page: requests.Response) -> str | None:
    match = _TAP.search(page.text)
    return match.group(1).strip() if match else None
