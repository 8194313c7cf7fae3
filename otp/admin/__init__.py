"""The staff admin of security media, by concept (importing a module registers its ModelAdmins).

``cards``: security cards (issue and print once, reissue, request an unlock).
``tokens``: the OTP token registry and registrations (register, accident report, request an unlock).
"""

from otp.admin import cards, tokens  # noqa: F401
