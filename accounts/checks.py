"""System checks for the accounts app, registered in ``AccountsConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

SIMULATED_GATEWAY = "accounts.services.clearing.SimulatedGateway"


def _is_simulator(path: str) -> bool:
    if path == SIMULATED_GATEWAY:
        return True
    from accounts.services.clearing import SimulatedGateway  # at check time, once the apps are loaded

    try:
        gateway = import_string(path)
    except ImportError:
        return False  # not the simulator; a wrong path fails at the first transfer to another bank
    return isinstance(gateway, type) and issubclass(gateway, SimulatedGateway)


def interbank_simulator_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: the interbank simulator "sends" every transfer to another bank, to nowhere."""
    path = settings.INTERBANK_GATEWAY
    if settings.DEBUG or not path or not _is_simulator(path):
        return []
    return [
        checks.Warning(
            f"INTERBANK_GATEWAY is the interbank simulator ({path}) with DEBUG off: money sent to other banks "
            "would be taken from the customers' accounts and marked sent, but would never leave the bank.",
            hint="Set INTERBANK_GATEWAY to the real interbank gateway, or leave it empty: transfers to other "
            "banks are then refused with a message.",
            id="accounts.W001",
        )
    ]
