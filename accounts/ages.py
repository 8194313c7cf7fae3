"""Who may sign up alone, and when the minor cap may be lifted. Pure: ages in, decisions out.

Domain rules: adulthood is 19 (full years). A minor under 18 cannot apply alone: a legal
representative applies for them. A minor aged 18 may apply alone and then carries the minor
transfer cap (``accounts.limits``), which only a branch can lift, and only after the 19th birthday.
"""

from __future__ import annotations

import datetime as dt

from accounts.idnumbers import ADULT_AGE, age_on

SOLO_SIGNUP_AGE = 18


def needs_legal_representative(birth_date: dt.date, today: dt.date) -> bool:
    """Under 18: only a legal representative can register the customer."""
    return age_on(birth_date, today) < SOLO_SIGNUP_AGE


def solo_signup_carries_minor_cap(birth_date: dt.date, today: dt.date) -> bool:
    """A minor who signs up alone (which means aged 18) carries the minor cap."""
    return age_on(birth_date, today) < ADULT_AGE


def minor_cap_liftable(birth_date: dt.date, today: dt.date) -> bool:
    """The cap can be lifted from the 19th birthday on, never earlier."""
    return age_on(birth_date, today) >= ADULT_AGE
