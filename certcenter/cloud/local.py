"""``LocalCloud``: the financial certificate cloud in this process, on this database (see ``api``).

Every state change is one transaction that writes its audit event (actor ``system:fincloud``;
details name the cloud_id, institution and serial, never a PIN, key or phone number). Rows are
locked in primary-key order (a certificate before its renewals, which are always newer).

The PIN check (``sign``, ``renew``) runs in a durable transaction of its own: it locks the row,
checks the PIN, counts a wrong one (the 5th locks the certificate for good) and commits that count
and the refusal's audit event before raising, so no caller's rollback can undo them. A correct PIN
resets the count; the key is opened only then, and its clear bytes live only inside the call.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import unicodedata
import uuid
from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from accounts.phones import normalise_mobile
from bankportal.actors import system_actor
from bankportal.audit.services import audit_record
from bankportal.crypto import KeyRing, blind_index, current_blind_index_key, parse_key_ring
from certcenter import ca
from certcenter.ca.common import utc
from certcenter.cloud import envelope, pins
from certcenter.cloud.api import CertificateStatus, CloudCertificate, CloudRefused, Enrollment, Refusal, Signed
from certcenter.cloud.models import INSTITUTION_PATTERN, CloudRegistration
from certcenter.cloud.models import CloudCertificate as Record

logger = logging.getLogger(__name__)

ACTOR = system_actor("fincloud")
PHONE_PURPOSE = "fincloud-phone"
HOLDER_NAME_MAX = 100
REASON_MAX = 32

Status = Record.Status
_FINDABLE = (Status.ACTIVE, Status.LOCKED)

T = TypeVar("T")


@functools.lru_cache(maxsize=4)
def _ring_for(value: str) -> KeyRing:
    return parse_key_ring(value, name="CLOUD_KEK")


def kek_ring() -> KeyRing:
    """The ``CLOUD_KEK`` ring from settings (validated at start-up), newest key first."""
    return _ring_for(settings.CLOUD_KEK)


# --- argument shapes ---------------------------------------------------------------------------------------


def normalise_holder_name(name: str) -> str:
    """NFC, whitespace collapsed to single spaces, trimmed: how names are stored and compared."""
    if not isinstance(name, str):
        raise ValueError("the holder name must be text")
    return " ".join(unicodedata.normalize("NFC", name).split())


def _holder_name(name: str) -> str:
    normalised = normalise_holder_name(name)
    if not normalised or len(normalised) > HOLDER_NAME_MAX:
        raise ValueError(f"the holder name must be 1-{HOLDER_NAME_MAX} characters")
    return normalised


def phone_index(phone: str) -> str:
    """The blind index of a mobile number (digits only); ``ValueError`` if it is not one."""
    return blind_index(normalise_mobile(phone), key=current_blind_index_key(), purpose=PHONE_PURPOSE)


def _institution(code: str) -> str:
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isdigit()):
        raise ValueError(f"an institution code is 3 digits ({INSTITUTION_PATTERN})")
    return code


def _moment(now: dt.datetime) -> dt.datetime:
    return utc(now)  # ValueError for a naive datetime; whole seconds, like X.509 times


def _cloud_uuid(cloud_id: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(cloud_id, uuid.UUID):
        return cloud_id
    try:
        return uuid.UUID(str(cloud_id))
    except ValueError:
        return None


# --- reads -------------------------------------------------------------------------------------------------


def _registered(record: Record) -> tuple[str, ...]:
    """The institutions it is registered at: the issuing one first (unless deregistered), the rest sorted."""
    codes = {registration.institution for registration in record.registrations.all()}
    first = (record.institution,) if record.institution in codes else ()
    return (*first, *sorted(codes - {record.institution}))


def _snapshot(record: Record) -> CloudCertificate:
    status = CertificateStatus(record.status)
    return CloudCertificate(
        cloud_id=record.cloud_id,
        institution=record.institution,
        holder_name=record.holder_name,
        status=status,
        wrong_pins=record.wrong_pins,
        tries_left=0 if status == CertificateStatus.LOCKED else pins.tries_left(record.wrong_pins),
        serial=record.serial,
        issuer=record.issuer,
        not_before=record.not_before,
        not_after=record.not_after,
        certificate_der=bytes(record.certificate_der),
        renews=record.renews.cloud_id if record.renews is not None else None,
        registered=_registered(record),
        created_at=record.created_at,
    )


def _records() -> QuerySet[Record]:
    return Record.objects.select_related("renews").prefetch_related("registrations")


def _fresh(record: Record) -> CloudCertificate:
    return _snapshot(_records().get(pk=record.pk))


def _lock(cloud_id: uuid.UUID | str) -> Record:
    """The record, row-locked until the transaction ends; ``CloudRefused(unknown)`` if there is none."""
    wanted = _cloud_uuid(cloud_id)
    # select_for_update: two devices (or an attach and a revoke) acting on one certificate at once
    # each see the other's committed count and status, so no wrong PIN is lost and no state skipped.
    record = Record.objects.select_for_update().filter(cloud_id=wanted).first() if wanted else None
    if record is None:
        raise CloudRefused(Refusal.UNKNOWN)
    return record


def _usable_refusal(record: Record, at: dt.datetime) -> Refusal | None:
    """Why the certificate cannot be used at ``at`` (whole seconds, UTC), if it cannot."""
    if record.status == Status.REVOKED:
        return Refusal.REVOKED
    if record.status == Status.SUPERSEDED:
        return Refusal.SUPERSEDED
    if record.status == Status.LOCKED:
        return Refusal.LOCKED
    if record.status != Status.ACTIVE or record.not_after is None or record.not_before is None:
        return Refusal.NOT_ACTIVE
    if at > record.not_after:  # the expiry day's 23:59:59 KST is still valid, the next second is not
        return Refusal.EXPIRED
    if at < record.not_before:
        return Refusal.NOT_ACTIVE
    return None


def _audit(action: str, record: Record | None, **details: object) -> None:
    base: dict[str, object] = {}
    if record is not None:
        base = {"cloud_id": str(record.cloud_id), "institution": record.institution, "serial": record.serial}
    audit_record(action=action, actor=ACTOR, obj=record, details={**base, **details})


def _destroy(record: Record) -> None:
    record.destroy_key_material()


class LocalCloud:
    """The cloud on this database; stateless (settings are read at each call)."""

    # --- issue ---------------------------------------------------------------------------------------------

    def enroll(
        self,
        *,
        institution: str,
        holder_name: str,
        phone: str,
        birth_date: dt.date | None,
        pin: str,
        now: dt.datetime,
    ) -> Enrollment:
        institution = _institution(institution)
        name = _holder_name(holder_name)
        index = phone_index(phone)
        if birth_date is not None and (not isinstance(birth_date, dt.date) or isinstance(birth_date, dt.datetime)):
            raise ValueError("the birth date must be a date (or None when unknown)")
        at = _moment(now)
        problem = pins.pin_problem(pin, birth_date)
        if problem == "format":
            raise ValueError(f"the PIN must be {pins.PIN_LENGTH} ASCII digits")
        if problem is not None:
            raise CloudRefused(Refusal.TRIVIAL_PIN)
        record = Record(
            institution=institution,
            holder_name=name,
            phone_index=index,
            birth_date=birth_date,
            status=Status.PENDING,
            created_at=at,
        )
        self._new_key(record, pin)
        with transaction.atomic():
            record.save()
            CloudRegistration.objects.create(certificate=record, institution=institution, registered_at=at)
            _audit("fincloud.enroll", record)
        return Enrollment(cloud_id=record.cloud_id, public_key_der=bytes(record.public_key_der))

    @staticmethod
    def _new_key(record: Record, pin: str) -> None:
        """A new key pair for ``record``, sealed under the newest KEK, with the PIN's verifier."""
        ring = kek_ring()
        private_key = envelope.new_private_key()
        record.store_sealed_key(envelope.seal_private_key(private_key, cloud_id=record.cloud_id, ring=ring))
        record.public_key_der = envelope.public_key_der(private_key)
        record.pin_verifier = envelope.pin_verifier(pin, cloud_id=record.cloud_id, ring=ring)
        del private_key

    def attach_certificate(
        self, *, cloud_id: uuid.UUID | str, certificate_der: bytes, now: dt.datetime
    ) -> CloudCertificate:
        at = _moment(now)
        try:
            certificate = ca.load_certificate(bytes(certificate_der))
            certified_key = certificate.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the certificate does not parse: {exc}") from None
        wanted = _cloud_uuid(cloud_id)
        renewed = Record.objects.filter(cloud_id=wanted).values_list("renews_id", flat=True) if wanted else None
        renews_pk = renewed.first() if renewed is not None else None
        with transaction.atomic():
            old = None
            if renews_pk is not None:
                # The renewed certificate first: primary-key order, as revoke() locks it before its renewals.
                old = Record.objects.select_for_update().get(pk=renews_pk)
            record = _lock(cloud_id)
            if record.status != Status.PENDING:
                raise CloudRefused(Refusal.NOT_PENDING)
            if certified_key != bytes(record.public_key_der):
                raise CloudRefused(Refusal.KEY_MISMATCH)
            if old is not None and old.status != Status.ACTIVE:
                # Another renewal of it was attached first, or it was locked or revoked meanwhile (which also
                # revokes its pending renewals, so this is only a second line).
                raise CloudRefused(Refusal(old.status) if old.status != Status.PENDING else Refusal.NOT_ACTIVE)
            record.status = Status.ACTIVE
            record.certificate_der = ca.certificate_der(certificate)
            record.serial = str(certificate.serial_number)
            record.issuer = certificate.issuer.rfc4514_string()[:300]
            record.not_before = certificate.not_valid_before_utc
            record.not_after = certificate.not_valid_after_utc
            record.save()
            if old is not None:
                old.status = Status.SUPERSEDED
                _destroy(old)  # its key can never sign again
                old.save()
                for registration in old.registrations.exclude(institution=record.institution):
                    CloudRegistration.objects.get_or_create(
                        certificate=record, institution=registration.institution, defaults={"registered_at": at}
                    )
                _audit("fincloud.supersede", old, superseded_by=str(record.cloud_id))
            _audit("fincloud.attach", record, renews=str(old.cloud_id) if old is not None else None)
        return _fresh(record)

    # --- use: the PIN ---------------------------------------------------------------------------------------

    @staticmethod
    def _check_pin(record: Record, pin: str, at: dt.datetime) -> CloudRefused | None:
        """Check ``pin`` on the locked ``record`` and count the answer; the refusal, if any."""
        refusal = _usable_refusal(record, at)
        if refusal is not None:
            return CloudRefused(refusal, tries_left=0 if refusal == Refusal.LOCKED else None)
        ring = kek_ring()
        try:
            # The KEK first: a key missing from CLOUD_KEK (or replaced under the same id) would make every
            # PIN look wrong and lock the holder out for the operator's mistake.
            envelope.check_unwraps(record.sealed_key(), cloud_id=record.cloud_id, ring=ring)
            correct = isinstance(pin, str) and envelope.pin_matches(
                pin, bytes(record.pin_verifier), cloud_id=record.cloud_id, ring=ring, kek_id=record.kek_id
            )
        except envelope.EnvelopeError as exc:
            logger.error("financial certificate %s: its key does not open under CLOUD_KEK (%s)", record.cloud_id, exc)
            return CloudRefused(Refusal.UNAVAILABLE)
        if correct:
            if record.wrong_pins:
                record.wrong_pins = 0
                record.save(update_fields=["wrong_pins"])
            return None
        record.wrong_pins += 1
        if pins.locks_after(record.wrong_pins):
            record.status = Status.LOCKED
            record.locked_at = at
            _destroy(record)  # a locked certificate is reissued, never unlocked: its key is of no more use
            record.save()
            _audit("fincloud.locked", record)
            # A renewal asked for before the lock must not become a way round it (same PIN, fresh count).
            for renewal in record.renewals.select_for_update().filter(status=Status.PENDING).order_by("pk"):
                LocalCloud._revoke_one(renewal, reason="locked", at=at)
            return CloudRefused(Refusal.LOCKED, tries_left=0)
        record.save(update_fields=["wrong_pins"])
        return CloudRefused(Refusal.WRONG_PIN, tries_left=pins.tries_left(record.wrong_pins))

    def _with_pin(
        self, cloud_id: uuid.UUID | str, pin: str, at: dt.datetime, *, operation: str, then: Callable[[Record], T]
    ) -> T:
        """Lock, check the PIN and count it, then ``then(record)`` after a correct one, in a durable
        transaction: the count and a refusal's audit event are committed before the refusal is raised."""
        refused: CloudRefused | None = None
        results: list[T] = []
        with transaction.atomic(durable=True):
            record: Record | None = None
            try:
                record = _lock(cloud_id)
            except CloudRefused as exc:
                refused = exc
            if record is not None:
                refused = self._check_pin(record, pin, at)
                if refused is None:
                    try:
                        results.append(then(record))
                    except CloudRefused as exc:  # the key did not open: the correct PIN's reset still stands
                        refused = exc
            if refused is not None:
                unknown = {} if record is not None else {"cloud_id": str(cloud_id)[:64]}
                _audit(f"fincloud.{operation}_refused", record, refusal=refused.code.value, **unknown)
        if refused is not None:
            raise refused
        return results[0]

    @staticmethod
    def _move_to_newest_kek(record: Record, pin: str) -> None:
        """After a correct PIN: rewrap the data key and remake the verifier under the newest KEK."""
        ring = kek_ring()
        if record.kek_id == ring.current_id:
            return
        record.store_sealed_key(envelope.rewrap(record.sealed_key(), cloud_id=record.cloud_id, ring=ring))
        record.pin_verifier = envelope.pin_verifier(pin, cloud_id=record.cloud_id, ring=ring)
        record.save(update_fields=["kek_id", "key_nonce", "key_ciphertext", "dek_nonce", "wrapped_dek", "pin_verifier"])

    def sign(self, *, cloud_id: uuid.UUID | str, pin: str, data: bytes, now: dt.datetime) -> Signed:
        if not isinstance(data, bytes):
            raise ValueError("the data to sign must be bytes")
        at = _moment(now)

        def signed(record: Record) -> Signed:
            try:
                private_key = envelope.open_private_key(record.sealed_key(), cloud_id=record.cloud_id, ring=kek_ring())
            except envelope.EnvelopeError:
                logger.error("financial certificate %s: the private key does not open", record.cloud_id)
                raise CloudRefused(Refusal.UNAVAILABLE) from None
            signature = envelope.sign(private_key, data)
            del private_key
            self._move_to_newest_kek(record, pin)
            _audit("fincloud.sign", record)
            return Signed(certificate_der=bytes(record.certificate_der), signature=signature)

        return self._with_pin(cloud_id, pin, at, operation="sign", then=signed)

    def renew(self, *, cloud_id: uuid.UUID | str, pin: str, now: dt.datetime) -> Enrollment:
        at = _moment(now)

        def renewal(old: Record) -> Enrollment:
            # A renewal asked for earlier and never attached is abandoned: one certificate, one successor.
            for abandoned in old.renewals.select_for_update().filter(status=Status.PENDING).order_by("pk"):
                self._revoke_one(abandoned, reason="abandoned", at=at)
            record = Record(
                institution=old.institution,
                holder_name=old.holder_name,
                phone_index=old.phone_index,
                birth_date=old.birth_date,
                status=Status.PENDING,
                renews=old,
                created_at=at,
            )
            self._new_key(record, pin)
            record.save()
            CloudRegistration.objects.create(certificate=record, institution=record.institution, registered_at=at)
            _audit("fincloud.renew", record, renews=str(old.cloud_id))
            return Enrollment(cloud_id=record.cloud_id, public_key_der=bytes(record.public_key_der))

        return self._with_pin(cloud_id, pin, at, operation="renew", then=renewal)

    # --- end -----------------------------------------------------------------------------------------------

    @staticmethod
    def _revoke_one(record: Record, *, reason: str, at: dt.datetime) -> None:
        record.status = Status.REVOKED
        record.revoked_at = at
        record.revocation_reason = reason
        _destroy(record)
        record.save()
        _audit("fincloud.revoke", record, reason=reason)

    def revoke(self, *, cloud_id: uuid.UUID | str, reason: str, now: dt.datetime) -> CloudCertificate:
        if not (isinstance(reason, str) and 0 < len(reason.strip()) <= REASON_MAX):
            raise ValueError(f"a revocation reason is 1-{REASON_MAX} characters")
        at = _moment(now)
        with transaction.atomic():
            record = _lock(cloud_id)
            if record.status != Status.REVOKED:
                # Its pending renewal goes too: a lost phone must not leave a successor to attach.
                for renewal in record.renewals.select_for_update().filter(status=Status.PENDING).order_by("pk"):
                    self._revoke_one(renewal, reason=reason.strip(), at=at)
                self._revoke_one(record, reason=reason.strip(), at=at)
        return _fresh(record)

    # --- other institutions --------------------------------------------------------------------------------

    def register(self, *, cloud_id: uuid.UUID | str, institution: str, now: dt.datetime) -> CloudCertificate:
        institution = _institution(institution)
        at = _moment(now)
        with transaction.atomic():
            record = _lock(cloud_id)
            refusal = _usable_refusal(record, at)
            if refusal is not None:
                raise CloudRefused(refusal)
            _registration, created = CloudRegistration.objects.get_or_create(
                certificate=record, institution=institution, defaults={"registered_at": at}
            )
            if created:
                _audit("fincloud.register", record, registration=institution)
        return _fresh(record)

    def deregister(self, *, cloud_id: uuid.UUID | str, institution: str, now: dt.datetime) -> CloudCertificate:
        institution = _institution(institution)
        _moment(now)
        with transaction.atomic():
            record = _lock(cloud_id)
            deleted, _ = CloudRegistration.objects.filter(certificate=record, institution=institution).delete()
            if deleted:
                _audit("fincloud.deregister", record, registration=institution)
        return _fresh(record)

    # --- reads ---------------------------------------------------------------------------------------------

    def status(self, *, cloud_id: uuid.UUID | str) -> CloudCertificate:
        wanted = _cloud_uuid(cloud_id)
        record = _records().filter(cloud_id=wanted).first() if wanted else None
        if record is None:
            raise CloudRefused(Refusal.UNKNOWN)
        return _snapshot(record)

    def find(self, *, holder_name: str, phone: str) -> list[CloudCertificate]:
        name = normalise_holder_name(holder_name)
        records = _records().filter(phone_index=phone_index(phone), holder_name=name, status__in=_FINDABLE)
        return [_snapshot(record) for record in records.order_by("-created_at", "-id")]
