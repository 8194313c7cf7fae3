"""Resident numbers never reach a log handler in clear."""

import logging

from bankportal.logging import MaskResidentNumbersFilter, mask_rrns


def test_mask_rrns_in_text():
    assert mask_rrns("rrn 900101-1234567 and 8501012345678.") == "rrn 900101-1****** and 850101-2******."
    assert mask_rrns("account 101-01-000001-2 phone 01012345678") == "account 101-01-000001-2 phone 01012345678"


def test_filter_masks_message_args_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "lookup %s failed", ("900101-1234567",), None)
    try:
        raise ValueError("bad 9001011234567")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert MaskResidentNumbersFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "1234567" not in formatted
    assert "900101-1******" in formatted


def test_every_configured_handler_masks():
    """The root handler and runserver's request log both pass through the mask."""
    for name in ("", "django.server"):
        # pytest's own capture handlers sit on the root logger during tests; ours are the rest.
        handlers = [h for h in logging.getLogger(name).handlers if not type(h).__module__.startswith("_pytest")]
        assert handlers, name
        for handler in handlers:
            assert any(isinstance(f, MaskResidentNumbersFilter) for f in handler.filters), (name, handler)
