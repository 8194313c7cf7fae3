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
    "crl_for_publication",
    "crl_regenerate",
    "ocsp_answer",
]
