"""`activation worker`: the job consumer (Huey) with the schedule, run as a service next to gunicorn."""

from __future__ import annotations

import logging
import sys
from collections import Counter

import click

from activation.cli import EXIT_FAILED, Context, pass_context
from activation.jobs.queue import queue_url
from activation.logging_config import configure_logging


@click.command("worker", short_help="Run the background job consumer (mail, push runs, schedule).")
@click.option("--workers", type=click.IntRange(1, 32), default=None,
              help="Consumer threads (default: [queue] consumer_workers).")
@click.option("--no-periodic", is_flag=True, help="Do not run the schedule here (another host's worker does).")
@click.option("--once", is_flag=True, help="Run every job that is due now in this process, then exit.")
@pass_context
def worker(ctx: Context, workers: int | None, no_periodic: bool, once: bool) -> None:
    """Run background jobs: mail, push-API provisioning runs, reconcile polling and the schedule.

    Stop it with SIGINT (finishes the jobs in hand) or SIGTERM. A job cut off mid-way is run again
    once its lease has run out; every job checks first whether its effect already happened.
    """
    configure_logging(logging.INFO)
    queue = ctx.runtime.jobs
    if once:
        outcomes = queue.run_due()
        states = Counter(str(outcome.state) for outcome in outcomes)
        ctx.console.print(f"Ran {len(outcomes)} due job(s): "
                          + (", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none"))
        if states.get("failed"):
            sys.exit(EXIT_FAILED)
        return
    if queue.huey.immediate:
        raise click.UsageError(f"the queue {queue_url(ctx.settings)!r} runs jobs inside the web request; set "
                               "ACTIVATION_QUEUE_URL to sqlite:///<file> (one machine) or redis://<host>/<db>.")
    handed = queue.sweep()  # jobs left queued while no worker ran (a lost nudge, a retry that came due)
    ctx.console.print(f"Job consumer on {queue_url(ctx.settings).split('@')[-1]}: {handed} due job(s) handed over; "
                      f"schedule {'off' if no_periodic else ', '.join(p.kind for p in queue.schedule)}.")
    queue.consumer(workers=workers, periodic=not no_periodic).run()
