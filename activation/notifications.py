"""Tell a manager their new starter has activated (configurable). Best effort, always audited.

After an activation this one email also carries the manager's "this wasn't me" link (`wasnt_me=True`),
so the manager gets one email, not this one and a separate account notice."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from activation import audit, notices
from activation.deps import Deps
from activation.mail.message import MailDeliveryError
from activation.models import Person
from activation.window import format_local


def notify_manager(session: Session, deps: Deps, person: Person, *, new_pass: bool = False, wasnt_me: bool = False,
                   raise_errors: bool = False, before_send: Callable[[], None] | None = None) -> bool:
    """Email the manager; False when skipped or failed (audited). `new_pass`: the starter lost their
    Temporary Access Pass and got a new one (the old one is void). `raise_errors` re-raises a mail failure
    after auditing it, so a queued job can retry. `before_send` runs only when there is someone to email
    (the queue's mail pacing: a notice with no recipient takes no slot). `wasnt_me` adds a single-use
    "this wasn't me" link (a `starter_notice` row, committed before the mail goes)."""
    if not person.manager_employee_id:
        return False
    manager = session.scalars(select(Person).where(Person.employee_id == person.manager_employee_id)).first()
    if manager is None or not manager.upn:
        deps.audit(session, action="manager.notified", actor=audit.Actor.system(), person=person,
                   outcome="skipped", reason="manager has no work account on record")
        session.commit()
        return False
    if before_send is not None:
        before_send()
    freeze: dict[str, object] = {}  # the templates show the link only when it is given
    if wasnt_me:
        notice = notices.new_notice(deps, person, notices.ACTIVATED)
        session.add(notice)
        session.commit()  # the link works only once its row exists; no write stays open while mail goes
        freeze = {"wasnt_me_link": notices.link_to(deps, notice), "link_days": deps.settings.desk.notice_link_days}
    zone = manager.time_zone or deps.settings.policy.default_time_zone
    email = deps.renderer.render(
        "manager_new_pass" if new_pass else "manager_notification", to=manager.upn,
        manager_name=manager.preferred_name or manager.given_name,
        starter_name=person.display_name, completed_at=format_local(deps.clock.now(), zone),
        **freeze,
    )
    try:
        deps.mailer.send(email)
    except MailDeliveryError as exc:
        deps.audit(session, action="manager.notified", actor=audit.Actor.system(), person=person,
                   outcome="failure", reason=str(exc))
        session.commit()
        if raise_errors:
            raise
        return False
    deps.audit(session, action="manager.notified", actor=audit.Actor.system(), person=person,
               details={"manager_employee_id": manager.employee_id, "about": "new pass" if new_pass else "activated",
                        "wasnt_me_link": bool(freeze)})
    session.commit()
    return True
