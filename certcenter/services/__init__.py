"""Every state change of the certificate centre, by concept.

- ``authority``: the CA itself (``ca_init``), the CRL and the OCSP answers.

Callers use ``from certcenter import services`` and ``services.<name>``.
"""

from certcenter.services.authority import (
    CA_INIT_LOCK_KEY,
    CA_INIT_PERMISSION,
    CRL_LIFETIME,
    CRL_PERMISSION,
    ERR_ISSUING_WITHOUT_ROOT,
    ERR_KEY_MISMATCH,
    ERR_KEY_UNUSABLE,
    ERR_NOT_INITIALISED,
    ERR_ROOT_CANNOT_SIGN,
    ERR_WRONG_PASSPHRASE,
    ISSUING_YEARS,
    OCSP_INTERNAL_ERROR,
    OCSP_MALFORMED_REQUEST,
    OCSP_NEXT_UPDATE,
    OCSP_UNAUTHORIZED,
    ROOT_YEARS,
    CaInitResult,
    CaSummary,
    ca_init,
    colon_hex,
    crl_for_publication,
    crl_regenerate,
    ocsp_answer,
)

__all__ = [
    "CA_INIT_LOCK_KEY",
    "CA_INIT_PERMISSION",
    "CRL_LIFETIME",
    "CRL_PERMISSION",
    "CaInitResult",
    "CaSummary",
    "ERR_ISSUING_WITHOUT_ROOT",
    "ERR_KEY_MISMATCH",
    "ERR_KEY_UNUSABLE",
    "ERR_NOT_INITIALISED",
    "ERR_ROOT_CANNOT_SIGN",
    "ERR_WRONG_PASSPHRASE",
    "ISSUING_YEARS",
    "OCSP_INTERNAL_ERROR",
    "OCSP_MALFORMED_REQUEST",
    "OCSP_NEXT_UPDATE",
    "OCSP_UNAUTHORIZED",
    "ROOT_YEARS",
    "ca_init",
    "colon_hex",
    "crl_for_publication",
    "crl_regenerate",
    "ocsp_answer",
]

# --- certificate login and e-signatures (login.py) ---
from certcenter.services.login import (  # noqa: E402
    CHALLENGE_LIFETIME,
    LOGIN_PERMISSION,
    SIGNATURE_PERMISSION,
    LoginResult,
    certificate_login,
    certificate_login_actor,
    certificate_login_challenge,
    signature_verify,
)

__all__ += [
    "CHALLENGE_LIFETIME",
    "LOGIN_PERMISSION",
    "SIGNATURE_PERMISSION",
    "LoginResult",
    "certificate_login",
    "certificate_login_actor",
    "certificate_login_challenge",
    "signature_verify",
]

# --- issuance: issue, renewal, reissue and revocation of joint certificates ---
from certcenter.services.issuance import (  # noqa: E402
    ADDITIONAL_AUTH_PURPOSE,
    ISSUE_PERMISSION,
    REVOKE_PERMISSION,
    REVOKE_REASONS,
    STAFF_REVOKE_PERMISSION,
    IssuedCertificate,
    ReissueReason,
    certificate_issue,
    certificate_reissue,
    certificate_renew,
    certificate_revoke,
    certificate_revoke_approved,
    certificate_web_actor,
)

__all__ += [
    "ADDITIONAL_AUTH_PURPOSE",
    "ISSUE_PERMISSION",
    "IssuedCertificate",
    "REVOKE_PERMISSION",
    "REVOKE_REASONS",
    "ReissueReason",
    "STAFF_REVOKE_PERMISSION",
    "certificate_issue",
    "certificate_reissue",
    "certificate_renew",
    "certificate_revoke",
    "certificate_revoke_approved",
    "certificate_web_actor",
]

# --- the daily job: expiry and renewal notices (notices.py) ---
from certcenter.services.notices import (  # noqa: E402
    NOTICES_PERMISSION,
    PURPOSE_EXPIRY_REMINDER,
    PURPOSE_RENEWAL_NOTICE,
    CertificateJobSummary,
    certificates_daily,
)

__all__ += [
    "NOTICES_PERMISSION",
    "PURPOSE_EXPIRY_REMINDER",
    "PURPOSE_RENEWAL_NOTICE",
    "CertificateJobSummary",
    "certificates_daily",
]
