"""GraphClient over HTTPS with urllib3: retries, timeouts, typed errors, one log line per attempt.

urllib3 directly, not requests (which MSAL keeps for the token endpoint): for a Graph call, requests'
own machinery (cookie jars, settings merging, hooks, redirect handling) cost about as much CPU as
urllib3's whole exchange, 0.42 against 0.23 ms per call (docs/benchmarks.md, 2026-12-06).
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, ProtocolError, ProxyError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from activation.clock import Clock
from activation.errors import ConfigurationError
from activation.graph import bulk_request
from activation.graph.auth_methods import (
    AuthenticationMethod,
    DirectoryObject,
    TapPolicy,
    directory_object_from_json,
    method_from_json,
    tap_policy_from_json,
)
from activation.graph.error_mapping import error_from_response
from activation.graph.errors import AmbiguousUser, GraphError, GraphUnavailable
from activation.graph.http_session import USER_AGENT
from activation.graph.models import (
    BulkUploadResult,
    GraphUser,
    MailMessage,
    ProvisioningLogEntry,
    TemporaryAccessPass,
)
from activation.graph.odata import and_filter, literal
from activation.graph.parsing import USER_SELECT, log_entry_from_json, tap_from_json, user_from_json
from activation.graph.protocol import TokenProvider
from activation.graph.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from activation.graph.tokens import TLS_HINT

logger = logging.getLogger(__name__)

JSON = "application/json"
SCIM_JSON = "application/scim+json"


# Failures of the connection, not answers: retried (when the call may be repeated), then GraphUnavailable.
_CONNECTION_FAILURES = (Urllib3Timeout, ProtocolError, ProxyError)
ResponseHook = Callable[["GraphResponse"], Any]


def _not_sent(exc: Exception) -> bool:
    """True when the request surely never reached the server, so even a POST may be repeated: the
    connection was never made (refused, name not resolved, connect timeout; urllib3's NewConnectionError
    and NameResolutionError are ConnectTimeoutErrors)."""
    return isinstance(exc, ConnectTimeoutError)


class GraphResponse:
    """What a Graph answer needs to be read: status, headers (case-insensitive), body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not (json.JSONDecodeError is one)."""
        return json.loads(self.content)


class HttpGraphClient:
    """The real adapter. `graph_url` is the cloud's Graph root, e.g. https://graph.microsoft.com."""

    def __init__(
        self,
        graph_url: str,
        token_provider: TokenProvider,
        http: urllib3.PoolManager,
        clock: Clock,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        provisioning_sp_id: str | None = None,
        provisioning_job_id: str | None = None,
        jitter: Callable[[], float] = random.random,
        response_hooks: tuple[ResponseHook, ...] = (),
    ) -> None:
        self._root = graph_url.rstrip("/")
        self._base = self._root + "/v1.0"
        self._tokens = token_provider
        self._http = http  # activation/graph/http_session.py: build_graph_pool
        self._hooks = response_hooks  # e.g. metrics counting throttles; every attempt, retries included
        self._clock = clock
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._sp_id = provisioning_sp_id
        self._job_id = provisioning_job_id
        self._jitter = jitter

    def __repr__(self) -> str:
        return f"HttpGraphClient(graph_url={self._root!r})"

    @property
    def token_provider(self) -> TokenProvider:
        """The MSAL-backed provider, shared with preflight checks and staff sign-in."""
        return self._tokens

    # -- provisioning -------------------------------------------------------------------------

    def bulk_upload(self, payload: dict[str, Any]) -> BulkUploadResult:
        bulk_request.check_size(payload)
        if not self._sp_id or not self._job_id:
            raise ConfigurationError(
                "Bulk upload needs ACTIVATION_PROVISIONING_SP_ID and ACTIVATION_PROVISIONING_JOB_ID."
            )
        path = f"/servicePrincipals/{quote(self._sp_id, safe='')}/synchronization/jobs/"
        path += f"{quote(self._job_id, safe='')}/bulkUpload"
        response = self._call("POST", path, body=payload, content_type=SCIM_JSON)
        return BulkUploadResult(
            location=response.headers.get("Location", ""), request_id=response.headers.get("request-id")
        )

    def provisioning_logs(
        self,
        job_id: str | None = None,
        external_id: str | None = None,
        status: str | None = None,
        top: int = 100,
    ) -> Iterator[ProvisioningLogEntry]:
        odata_filter = and_filter(
            f"jobid eq {literal(job_id)}" if job_id else None,
            f"sourceIdentity/id eq {literal(external_id)}" if external_id else None,
            f"provisioningStatusInfo/status eq {literal(status)}" if status else None,
        )
        params = {"$top": str(top)}
        if odata_filter:
            params["$filter"] = odata_filter
        for item in self._pages("/auditLogs/provisioning", params):
            yield log_entry_from_json(item)

    def provisioning_schema(self) -> dict[str, Any]:
        """GET .../synchronization/jobs/{jobId}/schema: which API attributes the app maps (issue 12)."""
        if not self._sp_id or not self._job_id:
            raise ConfigurationError(
                "Reading the provisioning schema needs ACTIVATION_PROVISIONING_SP_ID and "
                "ACTIVATION_PROVISIONING_JOB_ID."
            )
        path = f"/servicePrincipals/{quote(self._sp_id, safe='')}/synchronization/jobs/"
        path += f"{quote(self._job_id, safe='')}/schema"
        return dict(self._json(self._call("GET", path)))

    # -- users ----------------------------------------------------------------------------------

    def get_user(self, user_id: str) -> GraphUser:
        response = self._call("GET", self._user_path(user_id), params={"$select": USER_SELECT})
        return user_from_json(self._json(response))

    def get_employee_id(self, user_id: str) -> str | None:
        response = self._call("GET", self._user_path(user_id), params={"$select": "employeeId"})
        value = self._json(response).get("employeeId")
        return value if isinstance(value, str) and value.strip() else None

    def find_user_by_employee_id(self, employee_id: str) -> GraphUser | None:
        params = {"$filter": f"employeeId eq {literal(employee_id)}", "$select": USER_SELECT}
        items = list(self._pages("/users", params))
        if not items:
            return None
        if len(items) > 1:
            raise AmbiguousUser(f"{len(items)} users share the same employeeId")
        return user_from_json(items[0])

    def enable_user(self, user_id: str) -> None:
        self._call("PATCH", self._user_path(user_id), body={"accountEnabled": True})

    def disable_user(self, user_id: str) -> None:
        self._call("PATCH", self._user_path(user_id), body={"accountEnabled": False})

    def revoke_sessions(self, user_id: str) -> None:
        self._call("POST", self._user_path(user_id) + "/revokeSignInSessions")

    def set_password(self, user_id: str, password: str) -> None:
        body = {"passwordProfile": {"password": password, "forceChangePasswordNextSignIn": False}}
        self._call("PATCH", self._user_path(user_id), body=body, secrets=(password,))

    # -- Temporary Access Pass --------------------------------------------------------------------

    def create_tap(self, user_id: str, lifetime_minutes: int, usable_once: bool) -> TemporaryAccessPass:
        body = {"lifetimeInMinutes": lifetime_minutes, "isUsableOnce": usable_once}
        response = self._call("POST", self._tap_path(user_id), body=body, tap_endpoint=True)
        tap = tap_from_json(self._json(response), keep_value=True)
        if not tap.value:
            raise GraphError("Graph created a Temporary Access Pass but returned no value", status=201)
        return tap

    def list_taps(self, user_id: str) -> list[TemporaryAccessPass]:
        response = self._call("GET", self._tap_path(user_id), tap_endpoint=True)
        items = self._json(response).get("value") or []
        return [tap_from_json(item, keep_value=False) for item in items if isinstance(item, Mapping)]

    def delete_tap(self, user_id: str, method_id: str) -> None:
        self._call("DELETE", f"{self._tap_path(user_id)}/{quote(method_id, safe='')}", tap_endpoint=True)

    # -- authentication methods, memberships, TAP policy (issue 16) -----------------------------------

    def authentication_methods(self, user_id: str) -> list[AuthenticationMethod]:
        path = self._user_path(user_id) + "/authentication/methods"
        return [method_from_json(item) for item in self._pages(path, {})]

    def member_of(self, user_id: str) -> list[DirectoryObject]:
        params = {"$select": "id,displayName"}
        return [directory_object_from_json(item)
                for item in self._pages(self._user_path(user_id) + "/transitiveMemberOf", params)]

    def tap_policy(self) -> TapPolicy:
        path = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
        return tap_policy_from_json(self._json(self._call("GET", path)))

    # -- mail ---------------------------------------------------------------------------------------

    def send_mail(self, sender: str, message: MailMessage) -> None:
        if message.html:
            body = {"contentType": "HTML", "content": message.html}
        else:
            body = {"contentType": "Text", "content": message.text}
        payload = {
            "message": {
                "subject": message.subject,
                "body": body,
                "toRecipients": [{"emailAddress": {"address": address}} for address in message.to],
            },
            "saveToSentItems": False,
        }
        # Not idempotent: a timed-out sendMail may have been delivered, so never resend it blindly.
        self._call("POST", self._user_path(sender) + "/sendMail", body=payload, idempotent=False)

    # -- plumbing -----------------------------------------------------------------------------------

    @staticmethod
    def _user_path(user_id: str) -> str:
        return f"/users/{quote(user_id, safe='@')}"

    def _tap_path(self, user_id: str) -> str:
        return self._user_path(user_id) + "/authentication/temporaryAccessPassMethods"

    @staticmethod
    def _json(response: GraphResponse) -> Mapping[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise GraphError(
                "Graph answered with a body that is not JSON", status=response.status_code
            ) from None
        if not isinstance(data, Mapping):
            raise GraphError("Graph answered with unexpected JSON", status=response.status_code)
        return data

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[Mapping[str, Any]]:
        """Items of a collection, following @odata.nextLink (only ever to our own Graph root)."""
        url: str | None = self._base + path
        page_params: dict[str, str] | None = params
        while url:
            data = self._json(self._call("GET", url, params=page_params))
            for item in data.get("value") or []:
                if isinstance(item, Mapping):
                    yield item
            next_link = data.get("@odata.nextLink")
            if next_link is not None and not (
                isinstance(next_link, str) and next_link.startswith(self._root + "/")
            ):
                raise GraphError("Graph paging link points outside the configured Graph URL")
            url, page_params = next_link, None

    def _call(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = JSON,
        tap_endpoint: bool = False,
        secrets: tuple[str, ...] = (),
        idempotent: bool = True,
    ) -> GraphResponse:
        url = path_or_url if path_or_url.startswith(self._root + "/") else self._base + path_or_url
        log_path = urlsplit(url).path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        data = json.dumps(body).encode("utf-8") if body is not None else None
        started = self._clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            client_request_id = str(uuid.uuid4())
            headers = {
                "Authorization": f"Bearer {self._tokens.access_token()}",
                "Accept": JSON,
                "client-request-id": client_request_id,
                "return-client-request-id": "true",
                "User-Agent": USER_AGENT,
            }
            if data is not None:
                headers["Content-Type"] = content_type
            sent_at = time.perf_counter()  # a measurement, not a wait: real time even under a FakeClock
            try:
                answer = self._http.request(method, url, body=data, headers=headers, timeout=self._timeout,
                                            retries=False, redirect=False)
            except SSLError:
                self._log_attempt(method, log_path, "tls-error", sent_at, None, client_request_id, attempt)
                raise GraphUnavailable(
                    f"Graph call failed: {TLS_HINT}", client_request_id=client_request_id
                ) from None
            except _CONNECTION_FAILURES as exc:
                self._log_attempt(
                    method, log_path, type(exc).__name__, sent_at, None, client_request_id, attempt
                )
                wait = self._retry.next_wait(attempt, self._clock.monotonic() - started, None, self._jitter)
                if wait is None or not (idempotent or _not_sent(exc)):
                    raise GraphUnavailable(
                        f"Graph unreachable after {attempt} attempt(s): {type(exc).__name__}",
                        client_request_id=client_request_id,
                    ) from None
                self._clock.sleep(wait)
                continue
            response = GraphResponse(answer.status, answer.headers, answer.data)
            for hook in self._hooks:
                hook(response)
            request_id = response.headers.get("request-id")
            self._log_attempt(
                method, log_path, response.status_code, sent_at, request_id, client_request_id, attempt
            )
            if response.status_code < 400:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock.now())
            if response.status_code in RETRY_STATUSES:
                elapsed = self._clock.monotonic() - started
                wait = self._retry.next_wait(attempt, elapsed, retry_after, self._jitter)
                if wait is not None:
                    self._clock.sleep(wait)
                    continue
            try:
                envelope: Any = response.json()
            except ValueError:
                envelope = None
            raise error_from_response(
                response.status_code,
                envelope,
                request_id=request_id,
                client_request_id=response.headers.get("client-request-id", client_request_id),
                retry_after=retry_after,
                tap_endpoint=tap_endpoint,
                secrets=secrets,
            )

    def _log_attempt(
        self,
        method: str,
        path: str,
        outcome: int | str,
        sent_at: float,
        request_id: str | None,
        client_request_id: str,
        attempt: int,
    ) -> None:
        duration_ms = (time.perf_counter() - sent_at) * 1000
        ok = isinstance(outcome, int) and outcome < 400
        logger.log(
            logging.INFO if ok else logging.WARNING,
            "graph %s %s -> %s in %.0f ms request-id=%s client-request-id=%s attempt=%d",
            method,
            path,
            outcome,
            duration_ms,
            request_id or "-",
            client_request_id,
            attempt,
        )
