from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language


def bank(request: HttpRequest) -> dict[str, str]:
    """Bank name (in the active language) and call-centre number for every template."""
    name = settings.BANK_NAME_EN if get_language() == "en" else settings.BANK_NAME_KO
    return {"bank_name": name, "bank_code": settings.BANK_CODE, "bank_call_centre": settings.BANK_CALL_CENTRE}
