"""Background work on a real job queue (Huey), with a ledger in our database.

- `ledger.py`: the `job` table's service functions: add (idempotent per kind+key), claim, succeed,
  retry later with backoff, fail with a reason, find due or stalled work.
- `handlers.py`: what each kind of job does: each handler calls plain service functions in activation/.
- `runner.py`: runs one job from its ledger row (claim, handle, record the outcome, reschedule).
- `periodic.py`: the schedule (provision a drop folder, reconcile, invites, expiry, the sweep), and how
  another module adds a periodic job: append a `PeriodicJob` in `default_schedule`.
- `queue.py`: the composition root: `build_queue(settings, runtime)` returns a `JobQueue` whose Huey
  instance has every task registered. Nothing is built at import time.
- `mail_pacing.py`: queued mail stays under the sender mailbox's per-minute limit.
"""
