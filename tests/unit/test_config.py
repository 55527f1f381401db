from pathlib import Path

import pytest

from activation.config import load_settings
from activation.errors import ConfigurationError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_layers_default_then_environment_file_then_variables(tmp_path: Path) -> None:
    write(tmp_path / "default.toml", '[policy]\notp_digits = 6\ninvite_lead_days = 7\n')
    write(tmp_path / "development.toml", '[policy]\notp_digits = 8\n')
    settings = load_settings(
        {"ACTIVATION_ENV": "development", "ACTIVATION_INSTANCE_DIR": str(tmp_path),
         "ACTIVATION_DATABASE_URL": "sqlite:///x.db"},
        config_dir=tmp_path,
    )
    assert settings.policy.otp_digits == 8
    assert settings.policy.invite_lead_days == 7
    assert settings.database.url == "sqlite:///x.db"


def test_repository_defaults_load() -> None:
    settings = load_settings({"ACTIVATION_ENV": "test"}, config_dir=REPO_CONFIG)
    assert settings.env == "test"
    assert settings.mail.backend == "outbox"
    assert 60 <= settings.policy.tap_lifetime_minutes <= 480


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[policy]\notp_digitz = 6\n", "unknown key 'otp_digitz' in [policy]"),
        ("[polcy]\nx = 1\n", "unknown section [polcy]"),
        ("[policy]\notp_digits = \"six\"\n", "expected int"),
        ("[policy]\notp_digits = 4\n", "otp_digits must be between 6 and 8"),
        ("[policy]\ntap_lifetime_minutes = 30\n", "60-480"),
        ("[policy]\ndefault_time_zone = \"Mars/Olympus\"\n", "not an IANA time zone"),
        ("[mail]\nbackend = \"pigeon\"\n", "not one of: outbox, smtp, graph"),
        ("[microsoft]\nclient_secret = \"s3cret\"\n", "must come from the environment"),
        ("[policy\n", "not valid TOML"),
    ],
)
def test_bad_files_fail_with_a_message_naming_the_problem(tmp_path: Path, toml: str, message: str) -> None:
    write(tmp_path / "default.toml", toml)
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings({"ACTIVATION_ENV": "test"}, config_dir=tmp_path)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ACTIVATION_ENV", "prod", "ACTIVATION_ENV='prod' is not one of"),
        ("ACTIVATION_TRUSTED_PROXIES", "two", "ACTIVATION_TRUSTED_PROXIES='two' is not a valid int"),
        ("ACTIVATION_PUBLIC_URL", "activate.contoso.com", "must be an absolute http"),
        ("ACTIVATION_SMTP_SECURITY", "tls", "ACTIVATION_SMTP_SECURITY='tls' is not one of"),
    ],
)
def test_bad_variables_name_the_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({"ACTIVATION_ENV": "test", variable: value}, config_dir=tmp_path)


def test_secret_from_file_variant(tmp_path: Path) -> None:
    secret_file = write(tmp_path / "client_secret", "from-a-file\n")
    settings = load_settings(
        {"ACTIVATION_ENV": "test", "ACTIVATION_CLIENT_SECRET_FILE": str(secret_file)}, config_dir=tmp_path
    )
    assert settings.microsoft.client_secret == "from-a-file"
    assert "from-a-file" not in repr(settings)


def test_development_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    environ = {"ACTIVATION_ENV": "development", "ACTIVATION_INSTANCE_DIR": str(tmp_path / "inst")}
    first = load_settings(environ, config_dir=tmp_path).secret_key
    second = load_settings(environ, config_dir=tmp_path).secret_key
    assert len(first) >= 32 and first == second
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0


PRODUCTION_OK = {
    "ACTIVATION_ENV": "production",
    "ACTIVATION_SECRET_KEY": "q8Vt1zKp0bX9mW3rY6nL2sD5fH7jC4gA1eZ0uI8oP3",
    "ACTIVATION_MAIL_BACKEND": "smtp",
    "ACTIVATION_PUBLIC_URL": "https://activate.contoso.com",
    "ACTIVATION_QUEUE_URL": "redis://queue.internal:6379/1",
}


def test_production_starts_with_safe_settings(tmp_path: Path) -> None:
    assert load_settings(PRODUCTION_OK, config_dir=tmp_path).is_production


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ACTIVATION_SECRET_KEY": ""}, "ACTIVATION_SECRET_KEY is missing or weak"),
        ({"ACTIVATION_SECRET_KEY": "short"}, "ACTIVATION_SECRET_KEY is missing or weak"),
        ({"ACTIVATION_SECRET_KEY": "a" * 64}, "ACTIVATION_SECRET_KEY is missing or weak"),
        ({"ACTIVATION_MAIL_BACKEND": "outbox"}, "outbox only stores mail locally"),
        ({"ACTIVATION_PUBLIC_URL": "http://activate.contoso.com"}, "must use https in production"),
        ({"ACTIVATION_GRAPH_URL": "https://127.0.0.1:8443"}, "local emulator is never used in production"),
        ({"ACTIVATION_AUTHORITY_HOST": "https://localhost:8443"}, "local emulator is never used in production"),
        ({"ACTIVATION_QUEUE_URL": ""}, "production needs a shared job queue"),
        ({"ACTIVATION_QUEUE_URL": "sqlite:///queue.db"}, "production needs a shared job queue"),
        ({"ACTIVATION_QUEUE_URL": "amqp://broker"}, "must start with redis://"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**PRODUCTION_OK, **change}, config_dir=tmp_path)


def test_replace_changes_one_value_in_a_section(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings().replace(policy={"otp_digits": 8})
    assert settings.policy.otp_digits == 8
    assert settings.policy.otp_max_attempts == 5


# Fail closed: ACTIVATION_ENV unset is production; staging has every production rule.

STAGING_OK = {**PRODUCTION_OK, "ACTIVATION_ENV": "staging", "ACTIVATION_GRAPH_URL": "https://127.0.0.1:8443",
              "ACTIVATION_AUTHORITY_HOST": "https://localhost:8443"}


def test_unset_environment_means_production_and_says_how_to_try_it_out(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings({"ACTIVATION_INSTANCE_DIR": str(tmp_path)}, config_dir=REPO_CONFIG)
    message = str(refused.value)
    assert "set ACTIVATION_SECRET_KEY (at least 32 random bytes" in message
    assert "ACTIVATION_ENV is not set, so the production rules apply" in message
    assert "set ACTIVATION_ENV=demo to try it out" in message
    assert not (tmp_path / "secret_key").exists()  # no key is generated for production
    unset = {key: value for key, value in PRODUCTION_OK.items() if key != "ACTIVATION_ENV"}
    assert load_settings(unset, config_dir=tmp_path).env == "production"


def test_staging_trusts_any_https_microsoft_host(tmp_path: Path) -> None:
    settings = load_settings(STAGING_OK, config_dir=tmp_path)
    assert settings.is_strict and not settings.is_production


@pytest.mark.parametrize("env", ["staging", "production"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ACTIVATION_SECRET_KEY": ""}, "set ACTIVATION_SECRET_KEY \\(at least 32 random bytes"),
        ({"ACTIVATION_SECRET_KEY": "abcdefghij" * 4}, "ACTIVATION_SECRET_KEY is missing or weak"),
        ({"ACTIVATION_SECRET_KEY": "0123456789abcdef" * 2}, "ACTIVATION_SECRET_KEY is missing or weak"),
        ({"ACTIVATION_MAIL_BACKEND": "outbox"}, "needs ACTIVATION_MAIL_BACKEND=smtp or graph"),
        ({"ACTIVATION_PUBLIC_URL": "http://activate.contoso.com"}, "ACTIVATION_PUBLIC_URL must use https"),
        ({"ACTIVATION_GRAPH_URL": "http://graph.contoso.test"}, "ACTIVATION_GRAPH_URL=.* must be an https URL"),
        ({"ACTIVATION_AUTHORITY_HOST": "http://login.contoso.test"}, "ACTIVATION_AUTHORITY_HOST=.* must be an https"),
        ({"ACTIVATION_SMTP_SECURITY": "none"}, "ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK=true"),
        ({"ACTIVATION_SMTP_SECURITY": "none", "ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK": "true",
          "ACTIVATION_SMTP_HOST": "smtp.contoso.com"}, "allows plain SMTP only to this host"),
    ],
)
def test_strict_environments_refuse_unsafe_settings(tmp_path: Path, env: str, change: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({**PRODUCTION_OK, "ACTIVATION_ENV": env, **change}, config_dir=tmp_path)


def test_plain_smtp_to_a_loopback_relay_is_allowed_when_asked_for(tmp_path: Path) -> None:
    settings = load_settings({**STAGING_OK, "ACTIVATION_SMTP_SECURITY": "none", "ACTIVATION_SMTP_HOST": "127.0.0.1",
                              "ACTIVATION_SMTP_ALLOW_PLAIN_LOOPBACK": "1"}, config_dir=tmp_path)
    assert settings.mail.smtp_allow_plain_loopback


@pytest.mark.parametrize("host", ["localhost.", "LOCALHOST", "api.localhost", "0.0.0.0",  # noqa: S104
                                  "[::ffff:127.0.0.1]",
                                  "127.0.0.2", "127.1", "2130706433", "[::1]", "[::]"])
def test_production_refuses_every_loopback_spelling(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigurationError, match="never used in production"):
        load_settings({**PRODUCTION_OK, "ACTIVATION_GRAPH_URL": f"https://{host}:8443"}, config_dir=tmp_path)


def test_demo_and_tests_keep_their_conveniences(tmp_path: Path) -> None:
    settings = load_settings({"ACTIVATION_ENV": "demo", "ACTIVATION_INSTANCE_DIR": str(tmp_path)},
                             config_dir=REPO_CONFIG)
    assert settings.mail.backend == "outbox" and len(settings.secret_key) >= 32


@pytest.mark.parametrize(("variable", "url"), [("ACTIVATION_GRAPH_URL", "https://graph.contoso.test"),
                                               ("ACTIVATION_AUTHORITY_HOST", "https://login.microsoftonline.com.evil.test")])
def test_production_uses_microsoft_clouds_only(tmp_path: Path, variable: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{variable} host .* is not a Microsoft cloud endpoint"):
        load_settings({**PRODUCTION_OK, variable: url}, config_dir=tmp_path)
    assert load_settings({**PRODUCTION_OK, "ACTIVATION_ENV": "staging", variable: url}, config_dir=tmp_path)


def test_a_national_cloud_is_fine_in_production(tmp_path: Path) -> None:
    settings = load_settings({**PRODUCTION_OK, "ACTIVATION_AUTHORITY_HOST": "https://login.microsoftonline.us",
                              "ACTIVATION_GRAPH_URL": "https://graph.microsoft.us"}, config_dir=tmp_path)
    assert settings.microsoft.graph_url == "https://graph.microsoft.us"
