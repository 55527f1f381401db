"""`activation provision` and `activation reconcile` (`activation api-key ...` is in cli_api_keys).

Exit codes: 0 ok; 1 rows rejected, uploads or results failed, or the mass-change guard blocked the
run; 2 usage or configuration errors (unknown mapping file, unreadable HR file, missing settings).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from activation.audit import Actor
from activation.cli import EXIT_FAILED, EXIT_USAGE, Context, pass_context
from activation.demo_data import template_note
from activation.errors import ConfigurationError, NotFoundError
from activation.graph.errors import GraphError
from activation.provisioning import runs
from activation.provisioning.apply import DEFAULT_WAIT_SECONDS, Progress, RunResult, provision_file, resolve_mapping
from activation.provisioning.leavers import retry_offboarding
from activation.provisioning.planner import MassChangeVerdict, Plan, PlannedChange
from activation.provisioning.reconcile import ReconcileResult, reconcile
from activation.provisioning.runs import RunInProgress
from activation.provisioning.validation import ValidationResult

MAX_ROWS = 50  # per table; the JSON report (--report) has everything
WARNING_ROWS = 20  # more warnings than this are printed grouped by kind
PLAN_WORDS = {"joiner": "joiner(s)", "mover": "mover(s)", "leaver": "leaver(s)", "rehire": "rehire(s)",
              "resync": "re-sync(s)", "unchanged": "unchanged", "skipped": "skipped (never provisioned, not active)",
              "held_back": "held back", "absent": "absent from the complete file"}
_NUMBERS = re.compile(r"\d[\d,]*")
_LINES = re.compile(r"(?:(?:line|index) N(?:, | and )?)+")


class ConsoleProgress(Progress):
    """Prints the plan, then a rich progress bar on a terminal or one plain line per batch elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: RichProgress | None = None
        self._task = None
        self._batches = 0
        self._started = 0.0

    def planned(self, plan: Plan, validation: ValidationResult, verdict: MassChangeVerdict) -> None:
        print_plan(self.console, plan, validation, verdict)

    def upload_started(self, records: int, batches: int) -> None:
        self._batches, self._started = batches, time.monotonic()
        if not records:
            return
        if self.console.is_terminal:
            self._bar = RichProgress(
                TextColumn("Uploading"), BarColumn(), MofNCompleteColumn(), TextColumn("records"),
                TextColumn("batch {task.fields[batch]}/{task.fields[batches]}"), TimeRemainingColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task("upload", total=records, batch=0, batches=batches)
        else:
            self.console.print(f"Uploading {records} record(s) in {batches} batch(es)")

    def batch_finished(self, number: int, records: int, uploaded: bool) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=records, batch=number)
            if number >= self._batches:
                self.close()
            return
        # Not a terminal (cron, a log file): the first and last batch, every tenth of the way, and failures.
        step = max(1, self._batches // 10)
        if uploaded and number not in (1, self._batches) and number % step:
            return
        elapsed = time.monotonic() - self._started
        eta = elapsed / number * (self._batches - number)
        outcome = "uploaded" if uploaded else "FAILED"
        self.console.print(f"batch {number}/{self._batches}: {records} record(s) {outcome}; about {eta:.0f} s to go",
                           markup=False)

    def waiting_for_results(self, pending: int, seconds_left: float) -> None:
        self.console.print(f"Waiting for Microsoft to process {pending} record(s) ({seconds_left:.0f} s left)")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@click.command("provision", short_help="Validate, plan and upload an HR extract (CSV or JSON).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(path_type=Path),
              help="Mapping profile (TOML); default: the configured one (config/mapping.toml).")
@click.option("--dry-run", is_flag=True, help="Print and record the plan; change nothing anywhere.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the run's JSON report here.")
@click.option("--force", is_flag=True, help="Upload even when the mass-change guard would stop the run.")
@click.option("--full", is_flag=True, help="Re-send every record, not only new or changed ones.")
@click.option("--past-starters", "past_starters", type=click.Choice(["hold", "provision"]),
              help="People whose start date is long past and who have no account in Entra ID: hold them back "
                   "and report them (default, [provisioning] past_start_policy) or create their accounts anyway.")
@click.option("--complete", "complete", flag_value=True, default=None,
              help="The file lists every worker: report people we know who are missing from it (switched off "
                   "only when the profile sets absent_workers = \"switch_off\"). Default: the profile's `complete`.")
@click.option("--wait", is_flag=True, help="After uploading, wait for Microsoft's results and reconcile.")
@click.option("--wait-timeout", default=DEFAULT_WAIT_SECONDS, show_default=True, type=float,
              help="Seconds --wait waits at most.")
@pass_context
def provision(ctx: Context, file: Path, mapping_path: Path | None, dry_run: bool, report_path: Path | None,
              force: bool, full: bool, past_starters: str | None, complete: bool | None, wait: bool,
              wait_timeout: float) -> None:
    """Validate an HR extract (CSV or JSON), plan joiners/movers/leavers, and upload the changes."""
    progress = ConsoleProgress(ctx.console)
    note = template_note(file, Path(os.environ.get("ACTIVATION_CONFIG_DIR", "config")),
                         Path(ctx.settings.instance_dir))
    if note:
        ctx.errors.print(Text.assemble(("Note: ", "yellow"), note), highlight=False)
    try:
        mapping = resolve_mapping(ctx.settings, mapping_path)
        with ctx.runtime.session_factory() as session:
            result = provision_file(
                session, ctx.runtime.deps(), file, mapping=mapping, dry_run=dry_run, force=force, full=full,
                wait=wait, wait_seconds=wait_timeout, report_path=report_path, progress=progress,
                past_start_policy=past_starters, complete=complete,
            )
    except ConfigurationError as exc:
        progress.close()
        ctx.errors.print(Text.assemble(("Error: ", "red"), str(exc)), highlight=False)
        sys.exit(EXIT_USAGE)
    except RunInProgress as exc:
        progress.close()
        ctx.errors.print(Text.assemble(("Not started: ", "red"), str(exc)), highlight=False)
        sys.exit(EXIT_FAILED)
    finally:
        progress.close()
    print_outcome(ctx.console, result)
    if not result.ok:
        sys.exit(EXIT_FAILED)


@click.command("reconcile", short_help="Read Microsoft's provisioning results back.")
@click.option("--run", "run_id", type=int, help="Only this run's uploads (default: every outstanding upload).")
@pass_context
def reconcile_command(ctx: Context, run_id: int | None) -> None:
    """Read Microsoft's provisioning results; record object ids, UPNs and failures. Re-sends nothing."""
    try:
        with ctx.runtime.session_factory() as session:
            result = reconcile(session, ctx.runtime.deps(), run_id=run_id)
            retried = retry_offboarding(session, ctx.runtime.deps(), actor=Actor.system())
    except NotFoundError as exc:
        ctx.errors.print(f"Error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    except ConfigurationError as exc:
        ctx.errors.print(f"Error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    except GraphError as exc:
        ctx.errors.print(f"Reading the provisioning logs failed: {exc}", markup=False)
        sys.exit(EXIT_FAILED)
    print_reconciliation(ctx.console, result)
    still_failing = [outcome for outcome in retried if outcome.issues]
    if retried:
        ctx.console.print(f"Leavers' clean-up retried: {len(retried)}; still failing: "
                          f"{', '.join(o.employee_id for o in still_failing) or 'none'}", markup=False)
    if result.failed or result.lookup_errors or still_failing:
        sys.exit(EXIT_FAILED)


# -- printing --------------------------------------------------------------------------------------

def print_plan(console: Console, plan: Plan, validation: ValidationResult, verdict: MassChangeVerdict) -> None:
    counts = plan.counts()
    collapsed = validation.duplicates_collapsed
    duplicates = f", {collapsed:,} identical duplicate(s) collapsed" if collapsed else ""
    console.print(f"Read {validation.rows_read:,} row(s): {len(validation.records):,} valid, "
                  f"{len(validation.rejected_rows):,} rejected{duplicates}.", markup=False)
    planned = [f"{n:,} {PLAN_WORDS.get(name, name)}" for name, n in counts.items() if n]
    console.print("Plan: " + (", ".join(planned) or "nothing") + f"; {plan.upload_count:,} to upload.", markup=False)
    if plan.joiners:
        table = Table("employee_id", "where", "start", "department", "active", title="Joiners")
        for change in plan.joiners[:MAX_ROWS]:
            r = change.record
            _row(table, r.employee_id, r.source_ref, r.start_date.isoformat(), r.department, _flag(change.active))
        _print_table(console, table, len(plan.joiners))
    if plan.held_back:
        console.print(f"Held back: {plan.held_back_decision}", style="bold yellow", markup=False, highlight=False)
        table = Table("employee_id", "where", "start", "department", title="Held back (not uploaded)")
        for change in plan.held_back[:MAX_ROWS]:
            r = change.record
            _row(table, r.employee_id, r.source_ref, r.start_date.isoformat(), r.department)
        _print_table(console, table, len(plan.held_back))
    if plan.absent:
        console.print(f"Missing from this complete file: {_people(len(plan.absent))} we know as active. Nothing "
                      "was changed for them; check whether they left (mark them in HR, or set profile.absent_workers "
                      "= \"switch_off\" to switch absent people off under the mass-change guard).",
                      style="bold yellow", markup=False, highlight=False)
        table = Table("employee_id", "last known state", title="Absent from the complete file (review)")
        for change in plan.absent[:MAX_ROWS]:
            _row(table, change.record.employee_id, change.note)
        _print_table(console, table, len(plan.absent))
    if plan.adoption_note:
        console.print(f"Adoption look-up {plan.adoption_note}.", style="yellow", markup=False, highlight=False)
    updates = [*plan.movers, *plan.rehires, *plan.resyncs]
    if updates:
        table = Table("action", "employee_id", "where", "active", "changes (personal values masked)",
                      title="Movers, rehires and re-syncs")
        for change in updates[:MAX_ROWS]:
            _row(table, change.action, change.record.employee_id, change.record.source_ref, _flag(change.active),
                          _diff(change))
        _print_table(console, table, len(updates))
    if plan.leavers:
        table = Table("employee_id", "where", "end date", "HR status", "active", title="Leavers")
        for change in plan.leavers[:MAX_ROWS]:
            r = change.record
            _row(table, r.employee_id, r.source_ref, r.end_date.isoformat() if r.end_date else "", r.hr_status,
                          _flag(change.active))
        _print_table(console, table, len(plan.leavers))
    if len(validation.rejections) > MAX_ROWS:
        _print_groups(console, "Rejected, by reason", validation.rejections, style="red")
    if validation.rejections:
        table = Table("where", "employee_id", "column", "value (masked)", "reason", title="Rejected", style="red")
        for rejection in validation.rejections[:MAX_ROWS]:
            _row(table, rejection.source_ref, rejection.employee_id, rejection.where_in_file, rejection.value_masked,
                 rejection.reason)
        _print_table(console, table, len(validation.rejections))
    if len(validation.warnings) > WARNING_ROWS:  # repetitive at volume: one line per kind, details in --report
        _print_groups(console, "Warnings, by kind (every row is in the report, --report)", validation.warnings)
    elif validation.warnings:
        table = Table("where", "employee_id", "column", "warning", title="Warnings")
        for warning in validation.warnings:
            _row(table, warning.source_ref, warning.employee_id, warning.where_in_file, warning.reason)
        console.print(table)
    style = "bold red" if verdict.blocked else "dim"
    console.print(f"Mass-change guard: {verdict.reason}", style=style, markup=False)


def print_outcome(console: Console, result: RunResult) -> None:
    console.print(f"Run {result.run_id} ({result.mode}): {result.status}. {result.message}", markup=False)
    for failure in result.upload_failures[:MAX_ROWS]:
        console.print(f"Batch {failure.batch} failed ({len(failure.employee_ids)} record(s)): {failure.error}",
                      style="red", markup=False)
    for issue in result.leaver_issues[:MAX_ROWS]:
        console.print(f"Leaver {issue.employee_id}: {issue.step} failed: {issue.error}", style="red", markup=False)
    if result.reconciliation is not None:
        print_reconciliation(console, result.reconciliation)
    elif result.status == runs.STATUS_UPLOADED:
        console.print("Microsoft processes uploads asynchronously: run `activation reconcile` "
                      f"(or `activation reconcile --run {result.run_id}`) for the results.")
    if result.report_path:
        console.print(f"Report written to {result.report_path}", markup=False)


def print_reconciliation(console: Console, result: ReconcileResult) -> None:
    console.print(
        f"Results: {result.checked} checked, {result.succeeded} succeeded, {result.failed} failed, "
        f"{result.skipped} skipped (already up to date), {result.unknown} unknown, {result.pending} still pending; "
        f"{result.queued_for_invite} joiner(s) queued for an invite (`activation invites send`).", markup=False)
    if result.failures:
        table = Table("employee_id", "run", "Microsoft's error", title="Failed in Entra ID", style="red")
        for failure in result.failures[:MAX_ROWS]:
            _row(table, failure.employee_id, str(failure.run_id), failure.error)
        _print_table(console, table, len(result.failures))
    for error in result.lookup_errors[:MAX_ROWS]:
        console.print(f"Lookup by employeeId failed: {error}", style="red", markup=False)


def _print_groups(console: Console, title: str, problems: list[Any], *, style: str | None = None) -> None:
    """One row per kind of problem: column, how many, an example, the first places."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for problem in problems:
        kind = _LINES.sub("lines ", _NUMBERS.sub("N", problem.reason.split(";")[0]))
        groups.setdefault((problem.where_in_file, kind), []).append(problem)
    table = Table("column", "rows", "for example", "first places", title=title, style=style)
    for (column, _), members in sorted(groups.items(), key=lambda item: -len(item[1])):
        places = ", ".join(member.source_ref for member in members[:4]) + (", ..." if len(members) > 4 else "")
        _row(table, column, f"{len(members):,}", members[0].reason, places)
    console.print(table)


def _row(table: Table, *cells: str) -> None:
    """Cells as plain text: HR values and our messages may hold [brackets] that Rich would read as markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _print_table(console: Console, table: Table, total: int) -> None:
    if total > MAX_ROWS:
        table.caption = f"first {MAX_ROWS} of {total}; the full list is in the report (--report)"
    console.print(table)


def _diff(change: PlannedChange) -> str:
    if not change.diff:
        return change.note or "no HR field changed (what we send did, e.g. activation state, or --full)"
    return "; ".join(f"{c.field}: {c.old or '-'} -> {c.new or '-'}" for c in change.diff)


def _people(number: int) -> str:
    return "1 person" if number == 1 else f"{number} people"


def _flag(active: bool) -> str:
    return "true" if active else "false"


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"  # type: ignore[attr-defined]
