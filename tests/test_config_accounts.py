"""Parse Server's account options in a config file: mapping and the
start-up checks with Parse Server's messages."""

from __future__ import annotations

import json

import pytest

from bapp.config import ConfigError, Settings, apply_parse_config
from bapp.server import build_app

BASE = {"appId": "app", "masterKey": "mk"}
EMAIL = {"verifyUserEmails": True, "appName": "My App", "publicServerURL": "https://example.com/parse",
         "emailAdapter": {"module": "smtp", "options": {"url": "smtp://mail:587", "fromAddress": "a@example.com"}}}


def load(tmp_path, options: dict) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**BASE, **options}))
    settings = Settings()
    apply_parse_config(settings, path)
    return settings


def test_a_full_account_config_is_mapped(tmp_path):
    settings = load(tmp_path, {
        **EMAIL, "emailVerifyTokenValidityDuration": 7200, "emailVerifyTokenReuseIfValid": True,
        "preventLoginWithUnverifiedEmail": True, "preventSignupWithUnverifiedEmail": False,
        "revokeSessionOnPasswordReset": False,
        "passwordPolicy": {"validatorPattern": "^.{8,}$", "validationError": "8+", "doNotAllowUsername": True,
                           "maxPasswordAge": 90, "maxPasswordHistory": 5, "resetTokenValidityDuration": 3600,
                           "resetTokenReuseIfValid": True},
        "accountLockout": {"duration": 10, "threshold": 5, "unlockOnPasswordReset": True},
        "pages": {"enableRouter": True, "customUrls": {"passwordResetSuccess": "https://example.com/done"}},
        "customPages": {"verifyEmailSuccess": "https://example.com/verified", "parseFrameURL": "https://example.com/f"},
    })
    email = settings.email
    assert (email.verify_user_emails, email.token_validity_duration, email.token_reuse_if_valid) == (True, 7200, True)
    assert email.prevent_login_with_unverified_email and not email.prevent_signup_with_unverified_email
    assert email.adapter["module"] == "smtp" and settings.app_name == "My App"
    assert settings.revoke_session_on_password_reset is False
    policy = settings.password_policy
    assert (policy.validator_pattern, policy.max_password_history, policy.reset_token_validity_duration) == (
        "^.{8,}$", 5, 3600)
    assert (settings.account_lockout.duration, settings.account_lockout.threshold) == (10, 5)
    assert settings.pages.custom_urls == {"passwordResetSuccess": "https://example.com/done",
                                          "emailVerificationSuccess": "https://example.com/verified"}
    assert settings.pages.parse_frame_url == "https://example.com/f"


@pytest.mark.parametrize(("options", "message"), [
    ({"verifyUserEmails": True}, "An emailAdapter is required for e-mail verification and password resets."),
    ({**EMAIL, "appName": None}, "An app name is required for e-mail verification and password resets."),
    ({**EMAIL, "publicServerURL": None}, "A public server url is required for e-mail verification and password resets."),
    ({**EMAIL, "emailVerifyTokenValidityDuration": -1}, "Email verify token validity duration must be a value greater than 0."),
    ({**EMAIL, "emailVerifyTokenReuseIfValid": True},
     "You cannot use emailVerifyTokenReuseIfValid without emailVerifyTokenValidityDuration"),
    ({"accountLockout": {"duration": 0, "threshold": 3}},
     "Account lockout duration should be greater than 0 and less than 100000"),
    ({"accountLockout": {"duration": 5, "threshold": 1000}},
     "Account lockout threshold should be an integer greater than 0 and less than 1000"),
    ({"passwordPolicy": {"maxPasswordHistory": 21}}, "passwordPolicy.maxPasswordHistory must be an integer ranging 0 - 20"),
    ({"passwordPolicy": {"resetTokenReuseIfValid": True}},
     "You cannot use resetTokenReuseIfValid without resetTokenValidityDuration"),
    ({"passwordPolicy": {"maxPasswordAge": -1}}, "passwordPolicy.maxPasswordAge must be a positive number"),
    ({"passwordPolicy": {"validatorPattern": "("}}, "passwordPolicy.validatorPattern is not a valid regex"),
    ({"passwordPolicy": {"validatorCallback": "x"}}, "register it in cloud code with @cloud.password_validator"),
    ({"pages": {"enableLocalization": True}}, "pages.enableLocalization is not supported by bapp"),
    ({"pages": {"customUrls": {"nope": "https://x"}}}, "unknown page\\(s\\) in pages.customUrls: nope"),
    ({"customPages": {"other": "https://x"}}, "unknown customPages option: other"),
    ({"verifyUserEmails": "yes"}, "Parse Server option verifyUserEmails must be a boolean."),
])
def test_bad_account_options_stop_start_up(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, options)


def test_a_bad_adapter_stops_start_up(tmp_path):
    settings = load(tmp_path, {**EMAIL, "emailAdapter": {"module": str(tmp_path / "nope.py")}})
    with pytest.raises(ValueError, match="emailAdapter module not found"):
        build_app(settings)
