from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from bankportal.audit.chain import event_content, seal_content
from bankportal.audit.expressions import CurrentTransactionId


class AppendOnlyError(Exception):
    """Audit events and seals are never changed or deleted."""


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} cannot be deleted")


class AppendOnlyModel(models.Model):
    """Rows are inserted once; saving an existing row or deleting one raises ``AppendOnlyError``."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} cannot be deleted")


class AuditEvent(AppendOnlyModel):
    """One security-relevant action: who, what, on whom, when, from where.

    ``hash`` covers the content (``chain.event_content``) and is computed before the INSERT;
    ``txid`` is the inserting PostgreSQL transaction (a column default, NULL on SQLite). Neither
    links to any other row, so writers never wait on each other; ``audit_seal`` later seals
    committed events into the signed seal chain.
    """

    created_at = models.DateTimeField(editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    customer_ref = models.BigIntegerField(null=True, blank=True, db_index=True, verbose_name=_("customer id"))
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=16, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))
    user_agent = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    hash = models.CharField(max_length=64, editable=False)
    txid = models.BigIntegerField(
        null=True, blank=True, editable=False, db_default=CurrentTransactionId(), verbose_name=_("transaction id")
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        # The sealer and the verifier walk events in (transaction id, id) order.
        indexes = [models.Index(fields=["txid", "id"], name="audit_event_txid_id")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action}"

    def chain_content(self) -> dict[str, Any]:
        """The fields the hash covers, in a stable, serialisable shape."""
        return event_content(self)


class AuditSeal(AppendOnlyModel):
    """One signed link of the seal chain: a batch of events, its merkle root, the previous seal.

    The batch is every event whose ``(txid, id)`` lies after the previous seal's last key and up to
    this seal's last key (on SQLite, ``txid`` is NULL and ids alone order events). Every such
    transaction had ended when the seal was made, so the set can never grow or shrink.
    """

    number = models.BigIntegerField(unique=True, editable=False)
    sealed_at = models.DateTimeField(editable=False)
    first_txid = models.BigIntegerField(null=True, blank=True, editable=False)
    first_id = models.BigIntegerField(editable=False)
    last_txid = models.BigIntegerField(null=True, blank=True, editable=False)
    last_id = models.BigIntegerField(editable=False)
    count = models.PositiveIntegerField(editable=False)
    merkle_root = models.CharField(max_length=64, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)
    key_id = models.CharField(max_length=16, editable=False)
    signature = models.CharField(max_length=100, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        verbose_name = _("audit seal")
        verbose_name_plural = _("audit seals")
        constraints = [
            models.CheckConstraint(condition=models.Q(count__gt=0), name="audit_seal_not_empty"),
            models.CheckConstraint(condition=models.Q(number__gt=0), name="audit_seal_number_positive"),
        ]

    def __str__(self) -> str:
        return f"seal #{self.number} ({self.count} events)"

    def chain_content(self) -> dict[str, Any]:
        return seal_content(
            number=self.number,
            sealed_at=self.sealed_at.isoformat(),
            first_txid=self.first_txid,
            first_id=self.first_id,
            last_txid=self.last_txid,
            last_id=self.last_id,
            count=self.count,
            merkle_root=self.merkle_root,
            prev_hash=self.prev_hash,
            key_id=self.key_id,
        )

    @property
    def last_key(self) -> tuple[int | None, int]:
        return (self.last_txid, self.last_id)
