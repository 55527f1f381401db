"""Before issuing a Temporary Access Pass, check what Lifecycle Workflows fails on silently (issue 16).

- the TAP method is enabled and the user is in its scope (the authentication methods policy);
- the configured lifetime sits inside the policy's range;
- the user has no other sign-in methods yet (a returning user should use those, not a pass);
- the user holds no administrator role (directory roles need the admin process, not this tool).
Each failure is a plain reason for the desk; the starter sees a calm "the desk will finish this" page.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

from activation.config import PolicySettings
from activation.errors import ConfigurationError
from activation.graph.auth_methods import PASSWORD_METHOD, TAP, AuthenticationMethod, DirectoryObject, TapPolicy
from activation.graph.protocol import GraphClient


@dataclass(frozen=True)
class PendingReads:
    """The three reads the checks need, on their way from Graph (started by `start_reads`)."""

    tap_policy: Future[TapPolicy]
    memberships: Future[list[DirectoryObject]]
    methods: Future[list[AuthenticationMethod]]

    def verdict(self, policy: PolicySettings) -> str | None:
        """None when a TAP may be issued, else the reason. A Graph error of any read is raised here."""
        return judge(self.tap_policy.result(), self.memberships.result(), self.methods.result(), policy)


def start_reads(pool: Executor, graph: GraphClient, user_id: str,
                tap_policy: Callable[[], TapPolicy] | None = None) -> PendingReads:
    """Send the reads at once: they do not depend on each other (nor on enabling the account), so
    the starter waits for one round trip instead of three. Each runs in a copy of the caller's context,
    so its log lines keep the request id. `tap_policy` reads the tenant's policy (default: Graph; the
    portal passes `Deps.tap_policy`, cached a minute)."""
    def read(call, *args):  # type: ignore[no-untyped-def]
        return pool.submit(contextvars.copy_context().run, call, *args)

    return PendingReads(read(tap_policy or graph.tap_policy), read(graph.member_of, user_id),
                        read(graph.authentication_methods, user_id))


def why_not_issue(graph: GraphClient, user_id: str, policy: PolicySettings,
                  tap_policy: Callable[[], TapPolicy] | None = None) -> str | None:
    """None when a TAP may be issued, else the reason. Graph errors propagate (the caller retries)."""
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="tap-check") as pool:
        return start_reads(pool, graph, user_id, tap_policy).verdict(policy)


def judge(tap_policy: TapPolicy, memberships: list[DirectoryObject], methods: list[AuthenticationMethod],
          policy: PolicySettings) -> str | None:
    """The checks themselves, on what Graph said."""
    if not tap_policy.enabled:
        return "the Temporary Access Pass method is disabled in the tenant's authentication methods policy"
    groups = {item.id for item in memberships if not item.is_directory_role}
    if not tap_policy.covers(groups):
        return "the user is outside the Temporary Access Pass policy's scope (include/exclude groups)"
    low, high = tap_policy.minimum_lifetime_minutes, tap_policy.maximum_lifetime_minutes
    if not low <= policy.tap_lifetime_minutes <= high:
        return (f"policy.tap_lifetime_minutes {policy.tap_lifetime_minutes} is outside the tenant's TAP range "
                f"{low}-{high} minutes")
    roles = [item.display_name or item.id for item in memberships if item.is_directory_role]
    if roles:
        return f"the user holds an administrator role ({', '.join(sorted(roles))}): use the admin onboarding process"
    others = sorted({m.kind for m in methods if m.kind not in (PASSWORD_METHOD, TAP)})
    if others:
        return f"the user already has sign-in methods registered ({', '.join(others)}): help them use those"
    return None


def policy_summary(graph: GraphClient, policy: PolicySettings) -> str:
    """For `activation check`: the tenant's TAP policy allows what the portal asks for, else a fix."""
    tap_policy = graph.tap_policy()
    if not tap_policy.enabled:
        raise ConfigurationError("the Temporary Access Pass method is disabled in the authentication methods policy: "
                                 "enable it for the starters' group (Entra admin center > Authentication methods)")
    low, high = tap_policy.minimum_lifetime_minutes, tap_policy.maximum_lifetime_minutes
    if not low <= policy.tap_lifetime_minutes <= high:
        raise ConfigurationError(f"policy.tap_lifetime_minutes {policy.tap_lifetime_minutes} is outside the tenant's "
                                 f"TAP range {low}-{high}: change one of them")
    scope = "all users" if "all_users" in tap_policy.include_group_ids else (
        f"{len(tap_policy.include_group_ids)} group(s)")
    return f"TAP enabled for {scope}, lifetime {policy.tap_lifetime_minutes} min within {low}-{high}"
