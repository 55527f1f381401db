"""Audit actions in plain words, for the desk's timeline and the audit export (never raw codes)."""

from __future__ import annotations

ACTION_WORDS = {
    "person.created": "Person added from HR data",
    "person.adopted": "Existing account adopted (left switched on)",
    "activation.created": "Activation prepared",
    "activation.expired": "Activation window closed",
    "activation.cancelled": "Activation cancelled",
    "activation.reset": "Activation reset",
    "provisioning.result": "Account details read back from Entra ID",
    "provisioning.run_started": "Provisioning run started",
    "provisioning.run_finished": "Provisioning run finished",
    "provisioning.guard_overridden": "Mass-change guard overridden",
    "invite.issued": "Invite created",
    "invite.sent": "Invite emailed",
    "invite.superseded": "Invite replaced by a newer one",
    "lost_link.requested": "Starter asked for a new link",
    "code.sent": "Code emailed",
    "code.verify": "Code entered",
    "activation.locked": "Activation paused after too many wrong codes",
    "account.enabled": "Account switched on",
    "account.step_failed": "Account step failed",
    "account.sessions_revoked": "Sign-in sessions revoked",
    "tap.issued": "Temporary Access Pass issued (shown to the starter once)",
    "tap.lost_reported": "Starter reported a lost Temporary Access Pass",
    "tap.reissued": "New Temporary Access Pass issued (replaces the old one)",
    "tap.deleted": "Temporary Access Pass deleted",
    "activation.completed": "Activation completed",
    "password.set": "Password set by the starter",
    "manager.notified": "Manager notified",
    "manager.resend_invite": "Manager resent the invite",
    "desk.unlock": "Service desk unlocked the activation",
    "desk.resend_invite": "Service desk resent the invite",
    "desk.revoke_tap": "Service desk revoked the Temporary Access Pass",
    "desk.reset": "Service desk reset the activation",
    "desk.cancel": "Service desk cancelled the activation",
    "desk.audit_export": "Service desk exported the audit trail",
    "staff.access_denied": "Staff access refused",
    "staff.signed_in": "Staff member signed in",
    "staff.signed_out": "Staff member signed out",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
}

OUTCOME_WORDS = {"success": "done", "failure": "failed", "refused": "refused", "denied": "refused",
                 "ignored": "nothing to do", "skipped": "skipped"}


def action_words(action: str, outcome: str = "success") -> str:
    """`code.verify` + failure -> "Wrong code entered"; an action we have no words for is still readable."""
    if action == "code.verify":
        return {"success": "Right code entered", "failure": "Wrong code entered"}.get(outcome, "Code not checked")
    known = ACTION_WORDS.get(action)
    if known:
        return known
    return action.replace(".", ": ", 1).replace("_", " ").capitalize()


def outcome_words(outcome: str) -> str:
    return OUTCOME_WORDS.get(outcome, outcome.replace("_", " "))
