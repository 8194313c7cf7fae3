"""Logging filter that masks anything shaped like a resident registration number.

Services never log an RRN on purpose; this is the safety net for exception messages, SQL
parameters in debug logs and third-party libraries.
"""

from __future__ import annotations

import logging

from bankportal.masking import mask_rrns


class MaskResidentNumbersFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_rrns(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, so the handler does not format the raw one.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask_rrns(formatted)
            record.exc_info = None
        return True
