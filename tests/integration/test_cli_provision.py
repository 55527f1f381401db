"""`activation provision`, `reconcile` and `api-key` through click's CliRunner, on every database backend."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner, Result
from graph_fixtures import running_emulator
from sqlalchemy import func, select

from activation import cli_commands
from activation.cli import cli
from activation.models import ApiClient, Person, ProvisioningRun
from tests.provisioning_support import REPO_ROOT, hr_line, write_hr


@pytest.fixture
def invoke(monkeypatch, tmp_path, database_url, db_engine):  # type: ignore[no-untyped-def]
    cli_commands.register(cli)
    for name, value in {
        "ACTIVATION_ENV": "test", "ACTIVATION_DATABASE_URL": database_url, "ACTIVATION_INSTANCE_DIR": str(tmp_path),
        "ACTIVATION_CONFIG_DIR": str(REPO_ROOT / "config"), "COLUMNS": "200",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # the configured mapping path is relative: it must still be found

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


def future_line(employee_id: str, **values: str) -> str:
    """An HR line starting a month from today: the CLI runs on the real clock."""
    values.setdefault("start", (date.today() + timedelta(days=30)).isoformat())
    return hr_line(employee_id, **values)


def _count(db_engine, model) -> int:  # type: ignore[no-untyped-def]
    with db_engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_dry_run_prints_the_plan_and_changes_nothing(invoke, db_engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "plan.json"
    path = write_hr(tmp_path / "hr.csv", future_line("E1001"), future_line("E1002", manager="E1001"))
    result = invoke("provision", str(path), "--dry-run", "--report", str(report))

    assert result.exit_code == 0, result.output
    assert "Joiners" in result.output and "E1001" in result.output and "E1002" in result.output
    assert "dry run" in result.output and "Mass-change guard" in result.output
    assert _count(db_engine, Person) == 0
    assert _count(db_engine, ProvisioningRun) == 1
    assert json.loads(report.read_text(encoding="utf-8"))["mode"] == "dry-run"


def test_a_bad_row_exits_1_and_names_the_line_and_the_field(invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_hr(tmp_path / "hr.csv", future_line("E1"), future_line("E2", start="2026-02-31"))
    result = invoke("provision", str(path), "--dry-run")

    assert result.exit_code == 1, result.output
    assert "Rejected" in result.output
    rejected_line = next(line for line in result.output.splitlines() if "line 3" in line)
    assert "E2" in rejected_line and "start_date" in rejected_line and "2026-02-31" in rejected_line


def test_usage_and_configuration_errors_exit_2(invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_hr(tmp_path / "hr.csv", future_line("E1"))
    unknown_mapping = invoke("provision", str(path), "--mapping", str(tmp_path / "nope.toml"), "--dry-run")
    assert unknown_mapping.exit_code == 2 and "nope.toml" in unknown_mapping.output
    (tmp_path / "broken.csv").write_text("employee_id,first_name\nE1,Ada\n", encoding="utf-8")
    missing_columns = invoke("provision", str(tmp_path / "broken.csv"), "--dry-run")
    assert missing_columns.exit_code == 2 and "missing" in missing_columns.output
    assert invoke("provision", str(tmp_path / "absent.csv")).exit_code == 2


def test_apply_without_a_provisioning_app_is_a_configuration_error(  # type: ignore[no-untyped-def]
        invoke, monkeypatch, tmp_path, db_engine) -> None:
    path = write_hr(tmp_path / "hr.csv", future_line("E1"))
    result = invoke("provision", str(path))
    assert result.exit_code == 2 and "ACTIVATION_PROVISIONING_SP_ID" in result.output
    monkeypatch.setenv("ACTIVATION_PROVISIONING_SP_ID", "sp")
    monkeypatch.setenv("ACTIVATION_PROVISIONING_JOB_ID", "job")
    no_credentials = invoke("provision", str(path))
    assert no_credentials.exit_code == 2 and "ACTIVATION_TENANT_ID" in no_credentials.output
    assert _count(db_engine, Person) == 0  # nothing changed before the configuration was found wanting


def test_reconcile_with_nothing_outstanding(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("reconcile")
    assert result.exit_code == 0 and "0 checked" in result.output
    assert invoke("reconcile", "--run", "999").exit_code == 2


def test_api_key_create_list_revoke(invoke, db_engine) -> None:  # type: ignore[no-untyped-def]
    created = invoke("api-key", "create", "workday")
    assert created.exit_code == 0
    key = next(word for word in created.output.split() if word.startswith("dak_"))
    listed = invoke("api-key", "list")
    assert "workday" in listed.output and key[:12] in listed.output and key not in listed.output
    assert invoke("api-key", "create", "workday").exit_code == 2
    assert invoke("api-key", "revoke", "workday").exit_code == 0
    assert "revoked" in invoke("api-key", "list").output
    assert invoke("api-key", "revoke", "nobody").exit_code == 2
    assert _count(db_engine, ApiClient) == 1


def test_help_lists_the_provisioning_commands(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("--help")
    for command in ("provision", "reconcile", "api-key"):
        assert f"  {command} " in result.output
    assert "--dry-run" in invoke("provision", "--help").output


def test_apply_against_the_emulator_then_reconcile(invoke, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    emulator = next(emulators := running_emulator(tmp_path))
    try:
        info = emulator.info
        for name, value in {
            "ACTIVATION_TENANT_ID": info.tenant_id, "ACTIVATION_CLIENT_ID": info.client_id,
            "ACTIVATION_CLIENT_SECRET": info.client_secret, "ACTIVATION_AUTHORITY_HOST": info.base_url,
            "ACTIVATION_GRAPH_URL": info.base_url, "ACTIVATION_CA_BUNDLE": info.ca_path,
            "ACTIVATION_PROVISIONING_SP_ID": info.provisioning_sp_id,
            "ACTIVATION_PROVISIONING_JOB_ID": info.provisioning_job_id,
        }.items():
            monkeypatch.setenv(name, value)
        path = write_hr(tmp_path / "hr.csv", future_line("E1"), future_line("E2", manager="E1"))

        applied = invoke("provision", str(path))
        assert applied.exit_code == 0, applied.output
        assert "batch 1/1: 2 record(s) uploaded" in applied.output  # plain lines: not a terminal
        assert "\x1b[" not in applied.output and "activation reconcile" in applied.output

        emulator.post("process")
        reconciled = invoke("reconcile")
        assert reconciled.exit_code == 0, reconciled.output
        assert "2 checked, 2 succeeded, 0 failed" in reconciled.output
    finally:
        emulators.close()


def test_bracketed_text_in_errors_survives_the_console(invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mapping = tmp_path / "bad.toml"
    mapping.write_text((REPO_ROOT / "config" / "mapping.toml").read_text(encoding="utf-8")
                       + '\n[fields.cost_centre]\ncolumn = "cc"\n', encoding="utf-8")
    path = write_hr(tmp_path / "hr.csv", future_line("E1"))
    result = invoke("provision", str(path), "--mapping", str(mapping), "--dry-run")
    assert result.exit_code == 2
    assert "[fields.cost_centre] is not a canonical field" in result.output


def test_rejections_name_the_files_columns_and_keep_brackets(invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_hr(tmp_path / "hr.csv", future_line("E1", status="on leave"))
    result = invoke("provision", str(path), "--dry-run")
    assert result.exit_code == 1
    assert "[fields.hr_status.values]" in result.output
    rejected = next(line for line in result.output.splitlines() if "line 2" in line and "E1" in line)
    assert "│ status │" in rejected and "│ hr_status" not in rejected


def test_help_is_not_cut_short(invoke, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "80")
    commands = invoke("--help").output.split("Commands:")[1]
    assert "..." not in commands, commands


def test_planning_the_demos_undated_template_says_which_file_to_use(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("provision", str(REPO_ROOT / "config" / "demo" / "hr.csv"), "--dry-run")
    assert "is the demo's template, written for 2026-01-05" in result.output
    assert "demo/hr.csv" in result.output


def test_a_large_dry_run_groups_repetitive_problems_and_says_what_goes_up(invoke, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = [future_line(f"E{n}", manager="X9" if n % 2 else "") for n in range(1, 61)]  # 30 dangling managers
    lines += [future_line(f"B{n}", start="2026-02-30") for n in range(1, 56)]
    result = invoke("provision", str(write_hr(tmp_path / "hr.csv", *lines)), "--dry-run")
    assert "Rejected, by reason" in result.output and "Warnings, by kind" in result.output
    assert "Plan: 60 joiner(s); 60 to upload." in result.output
    assert "0 mover" not in result.output and "held_back(s)" not in result.output
