"""Entra ID v2.0 endpoints: discovery, JWKS, authorize (account picker), token, logout."""

from __future__ import annotations

import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, jsonify, redirect, request

from . import sign_in_page, tokens
from .context import GRAPH_APP_ID, GRAPH_RESOURCE, EmulatorContext, ctx
from .graph_errors import aad_error

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
CODE_LIFETIME = 300  # seconds; Entra's are valid for about 10 minutes

bp = Blueprint("identity", __name__)


def _unknown_tenant(tenant: str) -> Response:
    return aad_error(
        400,
        "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may happen "
        "if there are no active subscriptions for the tenant.",
    )


@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str):
    context = ctx()
    if not context.is_known_tenant(tenant):
        return _unknown_tenant(tenant)
    base, tid = context.base_url, context.identities.tenant_id
    return jsonify(
        {
            "issuer": context.issuer(),
            "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
            "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
            "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "private_key_jwt", "client_secret_basic",
            ],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "nbf", "name", "nonce", "oid",
                "preferred_username", "tid", "roles", "ver",
            ],
            "request_uri_parameter_supported": False,
            "frontchannel_logout_supported": True,
            "http_logout_supported": True,
            "tenant_region_scope": "EU",
            "cloud_instance_name": urlsplit(base).netloc,
            "msgraph_host": urlsplit(base).netloc,
        }
    )


@bp.get("/common/discovery/instance")
def instance_discovery():
    context = ctx()
    host = urlsplit(context.base_url).netloc
    return jsonify(
        {
            "tenant_discovery_endpoint": (
                f"{context.base_url}/{context.identities.tenant_id}/v2.0/.well-known/openid-configuration"
            ),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


@bp.get("/<tenant>/discovery/v2.0/keys")
def keys(tenant: str):
    context = ctx()
    if not context.is_known_tenant(tenant) and tenant != "common":
        return _unknown_tenant(tenant)
    return jsonify(tokens.jwks(context))


# -- token endpoint -----------------------------------------------------------------------------


def _authenticate_client(context: EmulatorContext, tenant: str) -> tuple[str | None, Response | None]:
    form = request.form
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    if request.authorization and request.authorization.type == "basic":
        client_id = client_id or request.authorization.username
        secret = secret if secret is not None else request.authorization.password
    if not client_id:
        return None, aad_error(
            400, "invalid_request", 900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    if client_id != context.identities.client_id:
        return None, aad_error(
            400, "unauthorized_client", 700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{context.identities.tenant_id}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the tenant. "
            "You may have sent your authentication request to the wrong tenant.",
        )
    assertion = form.get("client_assertion")
    if assertion:
        if form.get("client_assertion_type") != JWT_BEARER:
            return None, aad_error(
                400, "invalid_request", 50027,
                f"client_assertion_type must be '{JWT_BEARER}'.",
            )
        reason = tokens.verify_client_assertion(context, assertion, tenant)
        if reason:
            return None, aad_error(401, "invalid_client", 700027, reason)
        return "certificate", None
    if secret is not None:
        if not secrets.compare_digest(secret.encode(), context.identities.client_secret.encode()):
            return None, aad_error(
                401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        return "secret", None
    return None, aad_error(
        401, "invalid_client", 7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def _default_scope_audience(context: EmulatorContext, scope: str) -> str | None:
    wanted = [s for s in scope.split() if s not in OIDC_SCOPES]
    if len(wanted) != 1 or not wanted[0].endswith("/.default"):
        return None
    resource = wanted[0][: -len("/.default")]
    if resource in (context.base_url, GRAPH_RESOURCE, GRAPH_APP_ID):
        return resource
    return None


def _invalid_scope(scope: str) -> Response:
    return aad_error(
        400, "invalid_scope", 70011,
        f"The provided request must include a 'scope' input parameter. The provided value for the "
        f"input parameter 'scope' is not valid. The scope {scope} is not valid.",
    )


@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str):
    context = ctx()
    if not context.is_known_tenant(tenant):
        return _unknown_tenant(tenant)
    client_auth, failure = _authenticate_client(context, tenant)
    if failure is not None:
        return failure
    grant_type = request.form.get("grant_type", "")
    if grant_type == "client_credentials":
        scope = request.form.get("scope", "")
        audience = _default_scope_audience(context, scope)
        if audience is None:
            return _invalid_scope(scope)
        response = jsonify(
            {
                "token_type": "Bearer",
                "expires_in": tokens.TOKEN_LIFETIME,
                "ext_expires_in": tokens.TOKEN_LIFETIME,
                "access_token": tokens.app_access_token(context, audience, client_auth or "secret"),
            }
        )
    elif grant_type == "authorization_code":
        response = _redeem_code(context)
    else:
        return aad_error(
            400, "unsupported_grant_type", 70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    response.headers["Cache-Control"] = "no-store, no-cache"
    response.headers["Pragma"] = "no-cache"
    return response


def _redeem_code(context: EmulatorContext) -> Response:
    form = request.form
    code = form.get("code", "")
    store = context.store
    now = time.time()
    with store.lock:
        for stale in [c for c, at in store.redeemed_codes.items() if at < now - 3600]:
            del store.redeemed_codes[stale]
        if code in store.redeemed_codes:
            return aad_error(
                400, "invalid_grant", 54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code "
                "or use an existing refresh token.",
            )
        entry = store.auth_codes.pop(code, None)
        if entry is not None:
            store.redeemed_codes[code] = now
    if entry is None or entry["expires_at"] < now:
        return aad_error(
            400, "invalid_grant", 70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a "
            "new interactive authorization request for this user and resource.",
        )
    if form.get("redirect_uri") != entry["redirect_uri"]:
        return aad_error(
            400, "invalid_grant", 500112,
            "The reply address does not match the reply address provided when requesting the "
            "authorization code.",
        )
    if not tokens.pkce_matches(form.get("code_verifier", ""), entry["code_challenge"]):
        return aad_error(
            400, "invalid_grant", 501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    with store.lock:
        user = store.users.get(entry["user_id"])
    if user is None or not user.get("accountEnabled", True):
        return aad_error(400, "invalid_grant", 50057, "The user account is disabled.")
    requested = [s for s in entry["scope"].split() if s != "offline_access"]
    resource_scopes = [s for s in requested if s not in OIDC_SCOPES]
    audience = _default_scope_audience(context, " ".join(resource_scopes)) or GRAPH_RESOURCE
    scope = " ".join(requested)
    return jsonify(
        {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": tokens.TOKEN_LIFETIME,
            "ext_expires_in": tokens.TOKEN_LIFETIME,
            "access_token": tokens.user_access_token(context, audience, user, scope),
            "id_token": tokens.id_token(context, user, entry.get("nonce")),
            "client_info": tokens.client_info(context, user),
        }
    )


# -- authorize ---------------------------------------------------------------------------------


def _with_params(uri: str, params: dict[str, str], *, fragment: bool = False) -> str:
    parts = urlsplit(uri)
    if fragment:
        return urlunsplit(parts._replace(fragment=urlencode(params)))
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _respond_to_client(redirect_uri: str, mode: str, params: dict[str, str]) -> Response:
    if mode == "form_post":
        return sign_in_page.form_post(redirect_uri, params)
    return redirect(_with_params(redirect_uri, params, fragment=mode == "fragment"), code=302)


@bp.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def authorize(tenant: str):
    context = ctx()
    args = request.args
    if not context.is_known_tenant(tenant):
        return sign_in_page.error_page(90002, f"Tenant '{tenant}' not found.")
    client_id = args.get("client_id", "")
    if client_id != context.identities.client_id:
        return sign_in_page.error_page(
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{context.identities.tenant_id}'.",
        )
    redirect_uri = args.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https") or not urlsplit(redirect_uri).netloc:
        return sign_in_page.error_page(
            50011, "The redirect URI specified in the request is missing or is not an absolute URL."
        )
    mode = args.get("response_mode", "query")
    state = args.get("state")

    def fail(error: str, aadsts: int, description: str) -> Response:
        params = {"error": error, "error_description": f"AADSTS{aadsts}: {description}"}
        if state is not None:
            params["state"] = state
        return _respond_to_client(redirect_uri, mode, params)

    if args.get("response_type") != "code":
        return fail("unsupported_response_type", 700054, "response_type must be 'code'.")
    if not args.get("code_challenge") or args.get("code_challenge_method") != "S256":
        return fail(
            "invalid_request", 9002325,
            "Proof Key for Code Exchange is required: send code_challenge with code_challenge_method=S256.",
        )
    with context.store.lock:
        accounts = [u for u in context.store.users.values() if u.get("staff")]
        accounts.sort(key=lambda u: u.get("displayName") or "")
    if request.method == "GET":
        return sign_in_page.account_picker(request.full_path, accounts)

    chosen = next((u for u in accounts if u["id"] == request.form.get("account")), None)
    if chosen is None:
        response = sign_in_page.account_picker(request.full_path, accounts)
        response.status_code = 400
        return response
    code = secrets.token_urlsafe(48)
    with context.store.lock:
        context.store.auth_codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": args["code_challenge"],
            "nonce": args.get("nonce"),
            "scope": args.get("scope", "openid profile"),
            "user_id": chosen["id"],
            "expires_at": time.time() + CODE_LIFETIME,
        }
    params = {"code": code}
    if state is not None:
        params["state"] = state
    params["session_state"] = secrets.token_hex(16)
    return _respond_to_client(redirect_uri, mode, params)


@bp.route("/<tenant>/oauth2/v2.0/logout", methods=["GET", "POST"])
def logout(tenant: str):
    target = request.values.get("post_logout_redirect_uri", "")
    parts = urlsplit(target)
    if parts.scheme in ("http", "https") and parts.netloc:
        state = request.values.get("state")
        return redirect(_with_params(target, {"state": state}) if state else target, code=302)
    return sign_in_page.signed_out()
