"""Account settings: e-mail verification, password reset pages, the
password policy and account lockout, mapped from Parse Server's options
(``verifyUserEmails``, ``emailAdapter``, ``passwordPolicy``,
``accountLockout``, ``pages``, ``customPages`` and friends) and checked the
way Parse Server's ``Config.validate`` checks them, with its messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bapp.config import Settings


@dataclass
class EmailSettings:
    verify_user_emails: bool = False
    token_validity_duration: float | None = None  # seconds; None = never expires
    token_reuse_if_valid: bool = False
    prevent_login_with_unverified_email: bool = False
    prevent_signup_with_unverified_email: bool = False
    send_user_email_verification: bool = True
    # emailVerifySuccessOnInvalidEmail: answer {} for an unknown or verified address
    success_on_invalid_email: bool = False
    # {"module": "smtp" | "path/to/mailer.py", "options": {...}}; None = no mail
    adapter: dict | None = None


@dataclass
class PasswordPolicy:
    validator_pattern: str | None = None
    validation_error: str | None = None
    do_not_allow_username: bool = False
    max_password_age: float | None = None  # days
    max_password_history: int | None = None
    reset_token_validity_duration: float | None = None  # seconds
    reset_token_reuse_if_valid: bool = False
    reset_password_success_on_invalid_email: bool = True

    def pattern(self) -> re.Pattern | None:
        return re.compile(self.validator_pattern) if self.validator_pattern else None


@dataclass
class AccountLockout:
    duration: float = 5  # minutes
    threshold: int = 3
    unlock_on_password_reset: bool = False


# Page ids (Parse Server's PagesRouter) and their default files.
PAGE_FILES = {
    "passwordReset": "password_reset.html",
    "passwordResetSuccess": "password_reset_success.html",
    "passwordResetLinkInvalid": "password_reset_link_invalid.html",
    "emailVerificationSuccess": "email_verification_success.html",
    "emailVerificationSendFail": "email_verification_send_fail.html",
    "emailVerificationSendSuccess": "email_verification_send_success.html",
    "emailVerificationLinkInvalid": "email_verification_link_invalid.html",
    "emailVerificationLinkExpired": "email_verification_link_expired.html",
}

# Legacy ``customPages`` names -> page ids, so a config written for the old
# public API router keeps its pages.
LEGACY_PAGES = {
    "choosePassword": "passwordReset",
    "passwordResetSuccess": "passwordResetSuccess",
    "invalidPasswordResetLink": "passwordResetLinkInvalid",
    "verifyEmailSuccess": "emailVerificationSuccess",
    "linkSendFail": "emailVerificationSendFail",
    "linkSendSuccess": "emailVerificationSendSuccess",
    "invalidVerificationLink": "emailVerificationLinkInvalid",
    "expiredVerificationLink": "emailVerificationLinkExpired",
}


@dataclass
class PagesSettings:
    pages_endpoint: str = "apps"
    pages_path: str | None = None  # a directory whose HTML files replace the built-in ones
    force_redirect: bool = False
    custom_urls: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, Any] = field(default_factory=dict)
    parse_frame_url: str | None = None

    def custom_url(self, page_id: str) -> str | None:
        return self.custom_urls.get(page_id)


class AccountConfigError(ValueError):
    """A bad account option; ``apply_parse_config`` reports it as a ConfigError."""


ACCOUNT_OPTIONS = frozenset({
    "verifyUserEmails", "emailVerifyTokenValidityDuration", "emailVerifyTokenReuseIfValid",
    "preventLoginWithUnverifiedEmail", "preventSignupWithUnverifiedEmail", "sendUserEmailVerification",
    "emailVerifySuccessOnInvalidEmail", "emailAdapter", "appName", "passwordPolicy", "accountLockout", "pages", "customPages",
})


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise AccountConfigError(f"Parse Server option {name} must be a boolean.")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def apply_account_option(settings: Settings, key: str, value: Any) -> None:
    """Maps one of ``ACCOUNT_OPTIONS`` onto ``settings``."""
    email = settings.email
    if key == "verifyUserEmails":
        email.verify_user_emails = _bool(key, value)
    elif key == "emailVerifyTokenValidityDuration":
        email.token_validity_duration = value
    elif key == "emailVerifyTokenReuseIfValid":
        email.token_reuse_if_valid = value
    elif key == "preventLoginWithUnverifiedEmail":
        email.prevent_login_with_unverified_email = _bool(key, value)
    elif key == "preventSignupWithUnverifiedEmail":
        email.prevent_signup_with_unverified_email = _bool(key, value)
    elif key == "sendUserEmailVerification":
        email.send_user_email_verification = _bool(key, value)
    elif key == "emailVerifySuccessOnInvalidEmail":
        email.success_on_invalid_email = _bool(key, value)
    elif key == "emailAdapter":
        email.adapter = _email_adapter(value)
    elif key == "appName":
        settings.app_name = value
    elif key == "passwordPolicy":
        settings.password_policy = _password_policy(value)
    elif key == "accountLockout":
        settings.account_lockout = _account_lockout(value)
    elif key == "pages":
        _pages(settings.pages, value)
    elif key == "customPages":
        _custom_pages(settings.pages, value)


def _email_adapter(value: Any) -> dict | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"module": value}
    if not isinstance(value, dict) or not isinstance(value.get("module"), str) or not value["module"]:
        raise AccountConfigError('emailAdapter must be {"module": "smtp" or a Python file, "options": {...}}')
    options = value.get("options", {})
    if not isinstance(options, dict):
        raise AccountConfigError("emailAdapter.options must be an object.")
    return {"module": value["module"], "options": options}


_POLICY_KEYS = {
    "validatorPattern": "validator_pattern", "validationError": "validation_error",
    "doNotAllowUsername": "do_not_allow_username", "maxPasswordAge": "max_password_age",
    "maxPasswordHistory": "max_password_history", "resetTokenValidityDuration": "reset_token_validity_duration",
    "resetTokenReuseIfValid": "reset_token_reuse_if_valid",
    "resetPasswordSuccessOnInvalidEmail": "reset_password_success_on_invalid_email",
}


def _password_policy(value: Any) -> PasswordPolicy | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AccountConfigError("passwordPolicy must be an object.")
    if "validatorCallback" in value:
        raise AccountConfigError("passwordPolicy.validatorCallback cannot be set in a config file; register it in "
                                 "cloud code with @cloud.password_validator")
    unknown = sorted(k for k in value if k not in _POLICY_KEYS)
    if unknown:
        raise AccountConfigError(f"unknown passwordPolicy option(s): {', '.join(unknown)}")
    policy = PasswordPolicy(**{_POLICY_KEYS[k]: v for k, v in value.items()})
    _check_policy(policy)
    return policy


def _check_policy(p: PasswordPolicy) -> None:
    # Parse Server's Config.validatePasswordPolicy, with its messages.
    if p.max_password_age is not None and (not _number(p.max_password_age) or p.max_password_age < 0):
        raise AccountConfigError("passwordPolicy.maxPasswordAge must be a positive number")
    if p.reset_token_validity_duration is not None and (
            not _number(p.reset_token_validity_duration) or p.reset_token_validity_duration <= 0):
        raise AccountConfigError("passwordPolicy.resetTokenValidityDuration must be a positive number")
    if p.validator_pattern is not None:
        if not isinstance(p.validator_pattern, str):
            raise AccountConfigError("passwordPolicy.validatorPattern must be a regex string or RegExp object.")
        try:
            re.compile(p.validator_pattern)
        except re.error as exc:
            raise AccountConfigError(f"passwordPolicy.validatorPattern is not a valid regex: {exc}") from None
    if p.validation_error is not None and not isinstance(p.validation_error, str):
        raise AccountConfigError("passwordPolicy.validationError must be a string.")
    if not isinstance(p.do_not_allow_username, bool):
        raise AccountConfigError("passwordPolicy.doNotAllowUsername must be a boolean value.")
    history = p.max_password_history
    if history is not None and history != 0 and (not isinstance(history, int) or isinstance(history, bool)
                                                 or history <= 0 or history > 20):
        raise AccountConfigError("passwordPolicy.maxPasswordHistory must be an integer ranging 0 - 20")
    if not isinstance(p.reset_token_reuse_if_valid, bool):
        raise AccountConfigError("resetTokenReuseIfValid must be a boolean value")
    if p.reset_token_reuse_if_valid and not p.reset_token_validity_duration:
        raise AccountConfigError("You cannot use resetTokenReuseIfValid without resetTokenValidityDuration")
    if not isinstance(p.reset_password_success_on_invalid_email, bool):
        raise AccountConfigError("resetPasswordSuccessOnInvalidEmail must be a boolean value")


def _account_lockout(value: Any) -> AccountLockout | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AccountConfigError("accountLockout must be an object.")
    unknown = sorted(k for k in value if k not in ("duration", "threshold", "unlockOnPasswordReset"))
    if unknown:
        raise AccountConfigError(f"unknown accountLockout option(s): {', '.join(unknown)}")
    duration, threshold = value.get("duration"), value.get("threshold")
    # Parse Server's Config.validateAccountLockoutPolicy, with its messages.
    if not _number(duration) or duration <= 0 or duration > 99999:
        raise AccountConfigError("Account lockout duration should be greater than 0 and less than 100000")
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1 or threshold > 999:
        raise AccountConfigError("Account lockout threshold should be an integer greater than 0 and less than 1000")
    unlock = value.get("unlockOnPasswordReset", False)
    if not isinstance(unlock, bool):
        raise AccountConfigError("Parse Server option accountLockout.unlockOnPasswordReset must be a boolean.")
    return AccountLockout(duration=duration, threshold=threshold, unlock_on_password_reset=unlock)


def _pages(pages: PagesSettings, value: Any) -> None:
    if not isinstance(value, dict):
        raise AccountConfigError("Parse Server option pages must be an object.")
    for key, item in value.items():
        if key == "enableRouter":
            _bool("pages.enableRouter", item)  # bapp always serves the pages router
        elif key == "forceRedirect":
            pages.force_redirect = _bool("pages.forceRedirect", item)
        elif key in ("pagesEndpoint", "pagesPath"):
            if not isinstance(item, str) or not item.strip("/"):
                raise AccountConfigError(f"Parse Server option pages.{key} must be a string.")
            if key == "pagesEndpoint":
                pages.pages_endpoint = item.strip("/")
            else:
                pages.pages_path = item
        elif key == "customUrls":
            if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
                raise AccountConfigError("Parse Server option pages.customUrls must be an object.")
            unknown = sorted(k for k in item if k not in PAGE_FILES)
            if unknown:
                raise AccountConfigError(f"unknown page(s) in pages.customUrls: {', '.join(unknown)}")
            pages.custom_urls.update(item)
        elif key == "placeholders":
            if not isinstance(item, dict):
                raise AccountConfigError("Parse Server option pages.placeholders must be an object or a function.")
            pages.placeholders = dict(item)
        elif key in ("enableLocalization", "localizationJsonPath", "localizationFallbackLocale", "customRoutes"):
            if item in (False, None, [], "en"):
                continue  # the defaults: nothing to do
            raise AccountConfigError(f"pages.{key} is not supported by bapp (localized pages and custom "
                                     "page routes are not provided)")
        else:
            raise AccountConfigError(f"unknown pages option: {key}")


def _custom_pages(pages: PagesSettings, value: Any) -> None:
    if not isinstance(value, dict):
        raise AccountConfigError("customPages must be an object.")
    for key, url in value.items():
        if not isinstance(url, str):
            raise AccountConfigError(f"customPages.{key} must be a string.")
        if key == "parseFrameURL":
            pages.parse_frame_url = url
        elif key == "invalidLink":
            for page_id in ("passwordResetLinkInvalid", "emailVerificationLinkInvalid"):
                pages.custom_urls.setdefault(page_id, url)
        elif key in LEGACY_PAGES:
            pages.custom_urls.setdefault(LEGACY_PAGES[key], url)
        else:
            raise AccountConfigError(f"unknown customPages option: {key}")


def validate_account_settings(settings: Settings) -> None:
    """Start-up checks (Parse Server's validateEmailConfiguration): e-mail
    verification needs an adapter, an app name and a public server URL."""
    email = settings.email
    duration = email.token_validity_duration
    if duration is not None and (not _number(duration) or duration <= 0):
        raise AccountConfigError("Email verify token validity duration must be a value greater than 0.")
    if not isinstance(email.token_reuse_if_valid, bool):
        raise AccountConfigError("emailVerifyTokenReuseIfValid must be a boolean value")
    if email.token_reuse_if_valid and not duration:
        raise AccountConfigError("You cannot use emailVerifyTokenReuseIfValid without emailVerifyTokenValidityDuration")
    if settings.password_policy is not None:
        _check_policy(settings.password_policy)
    if not email.verify_user_emails:
        return
    if not email.adapter:
        raise AccountConfigError("An emailAdapter is required for e-mail verification and password resets.")
    if not isinstance(settings.app_name, str):
        raise AccountConfigError("An app name is required for e-mail verification and password resets.")
    if not isinstance(settings.public_server_url, str):
        raise AccountConfigError("A public server url is required for e-mail verification and password resets.")


def email_configured(settings: Settings) -> bool:
    """What ``/requestPasswordReset`` and ``/verificationEmailRequest`` need."""
    return bool(settings.email.adapter) and isinstance(settings.app_name, str) \
        and isinstance(settings.public_server_url, str)
