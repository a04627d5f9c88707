"""Courier adapters behind one small interface, so checkout can move from the sandbox rate card to a real
aggregator API (RajaOngkir, Biteship, ...) without touching the order logic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from chalicelib.shipping.domain import DEFAULT_RATE_CARD, Destination, ParcelItem, RateCard, ShippingService, quote


@runtime_checkable
class Courier(Protocol):
    """Anything that can price a parcel to a destination."""

    name: str

    def rates(
        self, items: Sequence[ParcelItem], destination: Destination, *, order_value: int
    ) -> list[ShippingService]: ...


class RateCardCourier:
    """Sandbox courier: prices from a static RateCard, so local, test and demo stages need no third-party account."""

    name = "sandbox"

    def __init__(self, *, origin_city: str, origin_province: str, rate_card: RateCard = DEFAULT_RATE_CARD) -> None:
        self.origin_city = origin_city
        self.origin_province = origin_province
        self.rate_card = rate_card

    def rates(
        self, items: Sequence[ParcelItem], destination: Destination, *, order_value: int
    ) -> list[ShippingService]:
        """Quote every service on the card; raises EmptyParcel / UnknownDestination like domain.quote."""
        return quote(
            items,
            destination,
            origin_city=self.origin_city,
            origin_province=self.origin_province,
            rate_card=self.rate_card,
            order_value=order_value,
        )


def find_service(services: Iterable[ShippingService], courier: str, service: str) -> ShippingService | None:
    """The offer matching the customer's choice (case-insensitive), so checkout charges the price just quoted."""
    wanted = (courier.strip().casefold(), service.strip().casefold())
    for offer in services:
        if (offer.courier.casefold(), offer.service.casefold()) == wanted:
            return offer
    return None
