"""`activation check`: configuration, database, token and a harmless Graph read, each named and explained."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from activation import permissions, tap_checks
from activation.db import ping
from activation.errors import ActivationError, ConfigurationError
from activation.graph.errors import GraphError, TokenError
from activation.runtime import Runtime


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def run_checks(runtime: Runtime) -> list[CheckResult]:
    """Every check runs; later ones are skipped (not failed silently) when an earlier one they need fails."""
    results = [_check("configuration", lambda: _configuration(runtime)),
               _check("database", lambda: _database(runtime))]
    if not results[0].ok:
        results += [CheckResult(name, False, "skipped: fix the configuration first")
                    for name in ("token", "permissions", "graph")]
        return results
    token = _check("token", lambda: _token(runtime))
    results.append(token)
    schema = runtime.settings.microsoft.provisioning_job_id != ""
    if token.ok:
        results.append(_check("permissions", lambda: _permissions(runtime)))
        results.append(_check("graph", lambda: _graph_read(runtime)))
        results.append(_check("tap policy", lambda: tap_checks.policy_summary(runtime.graph,
                                                                               runtime.settings.policy)))
        if schema:
            results.append(_check("provisioning schema", lambda: _provisioning_schema(runtime)))
    else:
        results += [CheckResult(name, False, "skipped: no token")
                    for name in ("permissions", "graph", "tap policy", *(("provisioning schema",) if schema else ()))]
    return results


def _check(name: str, probe: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, probe())
    except (ActivationError, SQLAlchemyError) as exc:
        return CheckResult(name, False, _explain(exc))


def _configuration(runtime: Runtime) -> str:
    ms = runtime.settings.microsoft
    missing = [name for name, value in (("ACTIVATION_TENANT_ID", ms.tenant_id), ("ACTIVATION_CLIENT_ID", ms.client_id))
               if not value]
    if not (ms.client_secret or ms.certificate_path):
        missing.append("ACTIVATION_CLIENT_CERTIFICATE or ACTIVATION_CLIENT_SECRET")
    if missing:
        raise ConfigurationError(f"missing {', '.join(missing)}")
    credential = "certificate" if ms.certificate_path else "client secret"
    return f"env {runtime.settings.env}, tenant {ms.tenant_id}, app {ms.client_id}, {credential}, graph {ms.graph_url}"


def _database(runtime: Runtime) -> str:
    ping(runtime.engine)
    return f"reachable: {runtime.engine.url.render_as_string(hide_password=True)}"


def _token(runtime: Runtime) -> str:
    runtime.graph.token_provider.access_token()
    return f"app-only token acquired for {runtime.settings.microsoft.graph_scope}"


def _permissions(runtime: Runtime) -> str:
    granted = permissions.granted_roles(runtime.graph.token_provider.access_token())
    lacking = permissions.missing(runtime.settings, granted)
    if lacking:
        names = "; ".join(f"{r.least_privileged} (to {r.purpose})" for r in lacking)
        raise ConfigurationError(f"the app registration lacks {names}: add these application permissions "
                                 "and grant admin consent (docs/operations.md)")
    return f"{len(permissions.requirements(runtime.settings))} needed permissions granted"


def _graph_read(runtime: Runtime) -> str:
    runtime.graph.find_user_by_employee_id("activation-preflight-check")
    return "read /users succeeded"


def _provisioning_schema(runtime: Runtime) -> str:
    """Name every attribute our mapping profile sends that the provisioning app does not map (issue 12)."""
    from activation.graph.errors import Forbidden
    from activation.provisioning.apply import resolve_mapping
    from activation.provisioning.schema_check import sent_attributes, unmapped_attributes

    mapping = resolve_mapping(runtime.settings)
    try:
        schema = runtime.graph.provisioning_schema()
    except Forbidden as exc:
        raise ConfigurationError(
            f"cannot read the provisioning job's schema ({exc}); grant the application permission "
            "Synchronization.Read.All so this check can name attributes the app would drop") from None
    dropped = unmapped_attributes(mapping, schema)
    if dropped:
        raise ConfigurationError(
            f"the provisioning app does not map {len(dropped)} attribute(s) that mapping {mapping.name!r} sends, so "
            f"Entra ID drops them: {', '.join(dropped)}. Add them under Provisioning > Attribute mapping > Edit "
            "API user attributes, then map each to its Entra ID attribute (docs/operations.md, 'Custom "
            "attributes'), or remove them from the mapping profile")
    return f"all {len(sent_attributes(mapping))} attributes that mapping {mapping.name!r} sends are mapped by the app"


def _explain(exc: BaseException) -> str:
    if isinstance(exc, SQLAlchemyError):
        return f"database unreachable ({type(exc).__name__}); check ACTIVATION_DATABASE_URL and that the server is up"
    if isinstance(exc, TokenError | GraphError | ConfigurationError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
