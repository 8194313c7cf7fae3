"""Every state change in ``otp``, by concept; import from here.

Importing this package registers the staff-request executors of ``otp`` (``OtpConfig.ready``
imports it, so they exist whenever Django is set up).
"""

from otp.services.additional_auth import (
    AdditionalAuthResult,
    additional_auth_start,
    additional_auth_use,
    additional_auth_verify,
)
from otp.services.cards import (
    ANTI_PHISHING_NOTICE,
    IssuedSecurityCard,
    SecurityCardChallenge,
    SecurityCardRefusal,
    SecurityCardResult,
    SecurityCardUnavailable,
    security_card_challenge,
    security_card_issue,
    security_card_unlock,
    security_card_verify,
)
from otp.services.digital_otp import DigitalOtpEnrollment, digital_otp_enroll_confirm, digital_otp_enroll_start
from otp.services.token_import import TokenImportError, TokenImportSummary, otp_tokens_import
from otp.services.tokens import (
    OTP_RESULT_MESSAGES,
    CertificateSessionRequired,
    OtpOutcome,
    OtpRefused,
    OtpResult,
    otp_accident_report,
    otp_register_at_branch,
    otp_register_online,
    otp_token_record_external_failure,
    otp_token_seed,
    otp_token_unlock,
    otp_verify,
    require_certificate_session,
)
from otp.services.verification import (
    Medium,
    MediumChallenge,
    MediumResult,
    Purpose,
    Refusal,
    SecurityMediumRefused,
    security_medium_challenge,
    security_medium_verify,
    security_tier,
)

__all__ = [
    "ANTI_PHISHING_NOTICE",
    "IssuedSecurityCard",
    "SecurityCardChallenge",
    "SecurityCardRefusal",
    "SecurityCardResult",
    "SecurityCardUnavailable",
    "security_card_challenge",
    "security_card_issue",
    "security_card_unlock",
    "security_card_verify",
    "CertificateSessionRequired",
    "DigitalOtpEnrollment",
    "OtpOutcome",
    "OtpRefused",
    "OtpResult",
    "OTP_RESULT_MESSAGES",
    "TokenImportError",
    "TokenImportSummary",
    "digital_otp_enroll_confirm",
    "digital_otp_enroll_start",
    "otp_accident_report",
    "otp_register_at_branch",
    "otp_register_online",
    "otp_token_record_external_failure",
    "otp_token_seed",
    "otp_token_unlock",
    "otp_tokens_import",
    "otp_verify",
    "require_certificate_session",
    "AdditionalAuthResult",
    "additional_auth_start",
    "additional_auth_use",
    "additional_auth_verify",
    "Medium",
    "MediumChallenge",
    "MediumResult",
    "Purpose",
    "Refusal",
    "SecurityMediumRefused",
    "security_medium_challenge",
    "security_medium_verify",
    "security_tier",
]
