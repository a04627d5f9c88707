"""Shipping quotes for a cart, through whichever courier adapter the shop is configured with; and catching up on
shipments whose courier webhooks were lost, by polling the courier's tracking API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock, config
from chalicelib.auth import Principal
from chalicelib.cart import service as carts
from chalicelib.cart.domain import PricedCart
from chalicelib.errors import ServiceUnavailable, Unprocessable, ValidationFailed
from chalicelib.observability import logger, metrics
from chalicelib.orders import lifecycle
from chalicelib.orders import service as orders
from chalicelib.orders.domain import COD, Order
from chalicelib.shipping import tracking, webhooks
from chalicelib.shipping.adapters import courier
from chalicelib.shipping.couriers import (
    Address,
    Booking,
    BookingRejected,
    BookingRequest,
    Contact,
    Courier,
    CourierError,
    find_service,
)
from chalicelib.shipping.domain import Destination, EmptyParcel, ParcelItem, ShippingService, UnknownDestination
from chalicelib.validation import Fields, city, postal_code, province


def booking_request(order: Order, *, units: dict[str, int] | None = None, reference: str | None = None,
                    back_to_shop: bool = False) -> BookingRequest:
    """The courier booking for an order's parcel: from the shop to the customer, or (`back_to_shop`, a return
    pickup) from the customer back to the shop with only the returned `units` and nothing to collect."""
    address = order.shipping_address
    shop = config.shop()
    items = tuple(
        ParcelItem(name=line.name, weight_grams=max(1, line.weight_grams // line.quantity),
                   quantity=line.quantity if units is None else units[line.sku], value=line.unit_price)
        for line in order.lines if units is None or units.get(line.sku)
    )
    shop_contact = Contact(name=shop.name, phone=shop.phone)
    shop_address = Address(street=shop.street, city=shop.city, province=shop.province, postal_code=shop.postal_code)
    customer_contact = Contact(name=address["recipient"], phone=address["phone"], email=order.customer.get("email", ""))
    customer_address = Address(street=address["street"], city=address["city"], province=address["province"],
                               postal_code=address["postal_code"], notes=address.get("notes", ""))
    origin, destination = (customer_contact, customer_address), (shop_contact, shop_address)
    if not back_to_shop:
        origin, destination = destination, origin
    return BookingRequest(
        order_id=reference or order.order_id,
        courier=order.shipping["courier"],
        service=order.shipping["service"],
        items=items,
        origin_contact=origin[0],
        origin_address=origin[1],
        destination_contact=destination[0],
        destination_address=destination[1],
        cash_on_delivery_amount=order.totals.total if order.payment_method == COD and not back_to_shop else 0,
        insurance_value=sum(item.value * item.quantity for item in items),
    )


def parse_destination(fields: Fields) -> Destination:
    """Where to quote for, by the same kode pos, city and province rules checkout and courier booking apply."""
    fields.reject_unknown({"postal_code", "city", "province"})
    return Destination(postal_code=fields.checked("postal_code", postal_code), city=fields.checked("city", city),
                       province=fields.checked("province", province))


def parcel_items(priced_cart: PricedCart) -> list[ParcelItem]:
    items = []
    for line in priced_cart.lines:
        if not line.sellable:
            continue
        dimensions = line.dimensions or {}
        items.append(ParcelItem(name=line.name, weight_grams=line.weight_grams, quantity=line.quantity,
                                value=line.unit_price, length_cm=dimensions.get("length_cm"),
                                width_cm=dimensions.get("width_cm"), height_cm=dimensions.get("height_cm")))
    return items


def rates(priced_cart: PricedCart, destination: Destination, *, path: str = "destination") -> list[ShippingService]:
    try:
        return courier().rates(parcel_items(priced_cart), destination, order_value=priced_cart.totals.total)
    except UnknownDestination as error:
        raise ValidationFailed(f"{path}.province", str(error)) from None
    except EmptyParcel:
        raise Unprocessable("the cart is empty: nothing to ship", code="cart_empty") from None
    except BookingRejected as refused:
        raise Unprocessable(f"the courier cannot quote this parcel: {refused}", code="shipping_unavailable") from None
    except CourierError as outage:
        raise ServiceUnavailable(f"the courier did not answer: {outage}; try again shortly") from None


def choose(priced_cart: PricedCart, destination: Destination, courier_name: str, service: str) -> ShippingService:
    """The price of the service the shopper picked, recomputed server-side (never trusted from the client)."""
    chosen = find_service(rates(priced_cart, destination, path="shipping_address"), courier_name, service)
    if chosen is None:
        raise Unprocessable(f"{courier_name} {service} does not deliver this parcel there", code="shipping_unavailable")
    return chosen


def quote(cart_id: str, destination: Destination, principal: Principal | None) -> dict[str, Any]:
    cart = carts.load(cart_id, principal)
    priced_cart = carts.priced(cart)
    services = rates(priced_cart, destination)
    return {
        "cart_id": cart_id,
        "destination": destination.__dict__,
        "weight_grams": priced_cart.totals.weight_grams,
        "services": [service.to_dict() for service in services],
    }


# ---- lost webhooks: polling the courier's tracking ---------------------------------------------------------------

# Orders whose parcel is with the courier and not yet delivered: read through the orders' by-status index.
IN_FLIGHT = (lifecycle.SHIPPED, lifecycle.IN_TRANSIT)
POLLED = "tracking poll"  # the source a polled status carries in place of a webhook body


def poll_stale_shipments(*, stale_after: timedelta | None = None, now: datetime | None = None,
                         batch: int = 100) -> dict[str, int]:
    """Hourly: every shipment on its way with no news for `stale_after` (TOKOFLOW_TRACKING_POLL_AFTER_HOURS, 6 h)
    is asked for through the courier's tracking API, and each status it lacks goes through the same rules as a
    webhook (webhooks.on_courier_update): a lost `delivered` still delivers the order and resumes its workflow.

    Reads only SHIPPED and IN_TRANSIT orders booked before the threshold (the by-status index), one tracking request
    per stale shipment, and writes only when the courier knows something new. One failing shipment is logged and
    counted; the others are still polled.
    """
    moment = now or clock.now()
    threshold = clock.iso(moment - (stale_after if stale_after is not None
                                    else timedelta(hours=config.tracking_poll_after_hours())))
    carrier = courier()
    counts = {"checked": 0, "polled": 0, "updated": 0, "statuses": 0, "failed": 0}
    for status in IN_FLIGHT:
        cursor: str | None = None
        while True:
            page, cursor = orders.by_status(status, limit=batch, cursor=cursor, created_before=threshold)
            for order in page:
                counts["checked"] += 1
                if not _stale(order, carrier, threshold):
                    continue
                counts["polled"] += 1
                try:
                    applied = catch_up(order, carrier)
                except Exception:  # one shipment the courier cannot answer for must not stop the others
                    counts["failed"] += 1
                    logger.exception("tracking poll failed", extra={"order_id": order.order_id})
                    continue
                counts["statuses"] += applied
                counts["updated"] += 1 if applied else 0
            if not cursor:
                break
    if counts["statuses"]:
        metrics.add_metric(name="CourierStatusesFromPolling", unit=MetricUnit.Count, value=counts["statuses"])
    if counts["polled"]:
        logger.info("stale shipments polled", extra=counts)
    return counts


def _stale(order: Order, carrier: Courier, threshold: str) -> bool:
    shipment = order.shipment or {}
    if not shipment.get("booking_id") or shipment.get("provider") != carrier.name:
        return False  # booked with another courier than the one configured now: its API cannot answer for it
    booked = [entry.at for entry in order.timeline if entry.event == lifecycle.SHIP] or [order.created_at]
    return tracking.last_news_at(shipment.get("history") or [], booked[-1]) <= threshold


def catch_up(order: Order, carrier: Courier) -> int:
    """Ask the courier where the order's parcel is and apply, oldest first, each status the shipment's history
    lacks, exactly as if its webhook had arrived; the number of statuses applied (0: the courier knew nothing new).
    Raises CourierError when the courier cannot answer."""
    shipment = order.shipment or {}
    booking = Booking.from_dict(shipment)
    fresh = tracking.unseen(shipment.get("history") or [], carrier.tracking(booking))
    for event in fresh:
        outcome = webhooks.on_courier_update(tracking.CourierUpdate(
            kind=tracking.EVENT_STATUS, booking_id=booking.booking_id,
            waybill_id=event.waybill_id or booking.waybill_id, tracking_id=booking.tracking_id, status=event.status,
            price=None, at=event.at,
            raw={"note": event.note, "source": POLLED}, reference_id=order.order_id))
        logger.info("polled courier status", extra={"order_id": order.order_id, "courier_status": event.status,
                                                    "outcome": outcome})
    return len(fresh)
