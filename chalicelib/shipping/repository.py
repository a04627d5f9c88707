"""The sandbox courier's own books in DynamoDB (the sandbox-couriers table): what a real courier keeps on its side.

The shop's shipments live on its orders (orders area); this table is the courier's view, so tests, the running local
stack and `make courier-fault` / `make ship` share one sandbox: its bookings under the shop's reference, where each
parcel is on its journey, and the faults armed for its next bookings and webhooks. Unused with Biteship.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from chalicelib import resources
from chalicelib.db import meta_for
from chalicelib.shipping.couriers import (
    BOOKING,
    WEBHOOK,
    Booking,
    SandboxFault,
    SandboxParcel,
    fault_operation,
)
from chalicelib.shipping.tracking import TrackingEvent

_SAVE_ATTEMPTS = 5


class SandboxParcelsModel(Model):
    """"reference#<order id>": every booking the sandbox made for that reference, oldest first, each with its
    journey; "booking#<booking id>": which reference a booking belongs to."""

    Meta = meta_for(resources.SANDBOX_COURIERS)
    item_id = UnicodeAttribute(hash_key=True)
    reference = UnicodeAttribute(null=True)  # on "booking#" pointers
    parcels = JSONAttribute(null=True)  # on "reference#" items: [{booking, booked_at, history, cancelled}]
    version = VersionAttribute()  # two bookings of one reference never overwrite each other


class SandboxCourierFaultModel(Model):
    """"fault#booking" / "fault#webhook": the fault armed for the next `remaining` bookings or webhooks."""

    Meta = meta_for(resources.SANDBOX_COURIERS)
    item_id = UnicodeAttribute(hash_key=True)
    fault = UnicodeAttribute()
    remaining = NumberAttribute()
    only_reference = UnicodeAttribute(null=True)
    only_status = UnicodeAttribute(null=True)


def _parcel_to_json(parcel: SandboxParcel) -> dict[str, Any]:
    return {"booking": parcel.booking.to_dict(), "booked_at": parcel.booked_at, "cancelled": parcel.cancelled,
            "history": [{key: value for key, value in event.to_dict().items() if key != "raw"}
                        for event in parcel.history]}


def _parcel_from_json(reference: str, data: dict[str, Any]) -> SandboxParcel:
    return SandboxParcel(reference=reference, booking=Booking.from_dict(data["booking"]), booked_at=data["booked_at"],
                         history=tuple(TrackingEvent.from_dict(event) for event in data.get("history") or []),
                         cancelled=bool(data.get("cancelled")))


def _fault_from_item(item: SandboxCourierFaultModel) -> SandboxFault:
    return SandboxFault(fault=item.fault, remaining=max(0, int(item.remaining)), reference=item.only_reference,
                        status=item.only_status)


class DynamoSandboxBooks:
    """couriers.SandboxBooks over the sandbox-couriers table (reads are consistent: a retry finds what was booked)."""

    # -- bookings ----------------------------------------------------------------------------------------------

    def add(self, parcel: SandboxParcel) -> None:
        def append(parcels: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [*parcels, _parcel_to_json(parcel)]

        self._change(parcel.reference, append)
        try:  # written once per booking id (the version condition); a repeat finds it written
            SandboxParcelsModel(f"booking#{parcel.booking.booking_id}", reference=parcel.reference).save()
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise

    def save(self, parcel: SandboxParcel) -> None:
        def swap(parcels: list[dict[str, Any]]) -> list[dict[str, Any]]:
            booking_id = parcel.booking.booking_id
            return [_parcel_to_json(parcel) if data["booking"]["booking_id"] == booking_id else data
                    for data in parcels]

        self._change(parcel.reference, swap)

    def of_reference(self, reference: str) -> list[SandboxParcel]:
        item = self._get(f"reference#{reference}")
        return [_parcel_from_json(reference, data) for data in (item.parcels or [])] if item else []

    def get(self, booking_id: str) -> SandboxParcel | None:
        pointer = self._get(f"booking#{booking_id}")
        if pointer is None or not pointer.reference:
            return None
        return next((parcel for parcel in self.of_reference(pointer.reference)
                     if parcel.booking.booking_id == booking_id), None)

    @staticmethod
    def _get(item_id: str) -> SandboxParcelsModel | None:
        try:
            return SandboxParcelsModel.get(item_id, consistent_read=True)
        except SandboxParcelsModel.DoesNotExist:
            return None

    def _change(self, reference: str, change: Any) -> None:
        for _ in range(_SAVE_ATTEMPTS):
            item = self._get(f"reference#{reference}") or SandboxParcelsModel(f"reference#{reference}", parcels=[])
            item.parcels = change(list(item.parcels or []))
            try:
                item.save()  # conditional on the version read (VersionAttribute)
            except PutError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                continue
            return
        raise RuntimeError(f"the sandbox courier's books for {reference} keep changing")

    # -- faults ------------------------------------------------------------------------------------------------

    def arm(self, fault: SandboxFault) -> None:
        SandboxCourierFaultModel(f"fault#{fault.operation}", fault=fault.fault, remaining=fault.remaining,
                                 only_reference=fault.reference, only_status=fault.status).save()

    def armed(self) -> list[SandboxFault]:
        return [_fault_from_item(item) for item in self._fault_items((BOOKING, WEBHOOK)) if int(item.remaining) > 0]

    def take_fault(self, kinds: Collection[str], *, reference: str, status: str | None = None) -> str | None:
        for item in self._fault_items({fault_operation(kind) for kind in kinds}):
            if not _fault_from_item(item).applies(kinds, reference=reference, status=status):
                continue
            try:  # conditional: of two bookings racing for the last armed fault, one gets it
                item.update(actions=[SandboxCourierFaultModel.remaining.add(-1)],
                            condition=(SandboxCourierFaultModel.remaining > 0)
                            & (SandboxCourierFaultModel.fault == item.fault))
            except UpdateError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                return None
            return item.fault
        return None

    @staticmethod
    def _fault_items(operations: Collection[str]) -> Iterator[SandboxCourierFaultModel]:
        for operation in sorted(operations):
            try:
                yield SandboxCourierFaultModel.get(f"fault#{operation}", consistent_read=True)
            except SandboxCourierFaultModel.DoesNotExist:
                continue
