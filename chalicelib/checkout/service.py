"""Checkout: one DynamoDB transaction reserves every line, consumes the voucher, spends the loyalty points,
closes the cart and writes the order, all or nothing. Retries with the same Idempotency-Key get the same order back.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.transactions import TransactWrite

from chalicelib import clock, config, resources
from chalicelib.auth import Principal
from chalicelib.cart import repository as cart_repository
from chalicelib.cart import service as carts
from chalicelib.checkout.domain import CheckoutRequest, build_order, new_order_id
from chalicelib.errors import Conflict, DomainError, Unprocessable
from chalicelib.inventory import service as inventory
from chalicelib.inventory.domain import RESERVE, InsufficientStock, Movement
from chalicelib.loyalty import service as loyalty
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import repository as orders
from chalicelib.orders import service as order_service
from chalicelib.orders.domain import COD, Order, new_access_token
from chalicelib.payments import service as payments
from chalicelib.shipping import service as shipping
from chalicelib.validation import Fields
from chalicelib.vouchers import repository as vouchers


def place_order(request: CheckoutRequest, principal: Principal | None, *, idempotency_key: str,
                lambda_context: Any = None) -> dict[str, Any]:
    """Idempotent per caller and key: the same body again returns the first answer, a different body is refused."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    idempotency_config, idempotent_checkout = _idempotent_checkout()
    if lambda_context is not None:
        idempotency_config.register_lambda_context(lambda_context)
    # Keys are per signed-in customer; guests share one space, so a key reused for another cart is refused
    # too (a replay returns the first answer only to a caller who sends the very same body, cart id included).
    scope = principal.sub if principal else "guest"
    command = {
        "key": f"{scope}:{idempotency_key}",
        "request": request.to_dict(),
        "principal": {"sub": principal.sub, "role": principal.role} if principal else None,
    }
    try:
        return idempotent_checkout(command=command)
    except IdempotencyValidationError:
        raise Unprocessable("this Idempotency-Key was already used for a different checkout",
                            code="idempotency_key_reused") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("a checkout with this Idempotency-Key is still in progress; retry shortly",
                       code="checkout_in_progress") from None


def reset() -> None:
    """Forget the idempotency layer built on first use (tests and the offline account switch AWS endpoints)."""
    _idempotent_checkout.cache_clear()


@functools.cache
def _idempotent_checkout() -> tuple[Any, Any]:
    """Built on first use: the persistence layer creates its DynamoDB client when constructed."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=resources.IDEMPOTENCY.physical_name)
    idempotency_config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=24 * 3600,
    )
    decorated = idempotent_function(data_keyword_argument="command", persistence_store=persistence,
                                    config=idempotency_config)(_checkout)
    return idempotency_config, decorated


def _checkout(command: dict[str, Any]) -> dict[str, Any]:
    """Reads the cart, then in one more request every line's stock level and product, the voucher and the points
    account; the transaction writes on those reads, conditioned on them being still current (a stock level's or
    the account's version, the cart's version, the voucher's remaining uses), and decides again on fresh reads
    only when another writer got there first."""
    request = CheckoutRequest(**command["request"])
    principal = Principal(**command["principal"]) if command["principal"] else None
    cart = carts.load(request.cart_id, principal, for_update=True)
    customer_id = principal.sub if principal and principal.role == "customer" else None
    account_read = loyalty.account_read(customer_id) if request.redeem_points and customer_id else None
    reads = carts.read(cart, also=[account_read] if account_read else [])
    priced = carts.priced_from(cart, reads)
    if not priced.lines:
        raise Unprocessable("the cart is empty", code="cart_empty")
    if priced.unsellable_skus:
        raise Conflict(f"no longer for sale: {', '.join(priced.unsellable_skus)}", code="sku_unavailable",
                       details={"skus": priced.unsellable_skus})
    if priced.voucher and priced.voucher_problem:
        raise Unprocessable(f"voucher {priced.voucher.code} cannot be used: {priced.voucher_problem}",
                            code="voucher_not_applicable")
    if priced.short_skus:
        short = {line.sku: {"requested": line.quantity, "available": max(0, line.available)}
                 for line in priced.lines if line.short}
        metrics.add_metric(name="CheckoutsRefusedForStock", unit=MetricUnit.Count, value=1)
        raise InsufficientStock(short)

    address = request.shipping_address
    destination = shipping.parse_destination(
        Fields({key: address[key] for key in ("postal_code", "city", "province")}))
    chosen = shipping.choose(priced, destination, request.courier, request.service)
    if request.payment_method == COD and not chosen.cod_available:
        raise Unprocessable(f"{chosen.courier} {chosen.service} does not offer cash on delivery for this order",
                            code="cod_unavailable")

    now = clock.now()
    token, token_hash = new_access_token()
    points_discount = 0
    account = reads.found.one(account_read) if account_read else None
    if request.redeem_points:
        if customer_id is None:
            raise Unprocessable("loyalty points belong to a signed-in customer: sign in to spend them",
                                code="sign_in_required")
        points_discount = loyalty.quote_redemption(customer_id, request.redeem_points,
                                                   goods_after_voucher=priced.totals.total, account=account)
    order = build_order(request, priced, order_id=new_order_id(now), customer_id=customer_id,
                        shipping=chosen.to_dict(), access_token_hash=token_hash, now=now,
                        payment_window_seconds=config.payment_window_seconds(), points_discount=points_discount)
    movements = [
        Movement(sku=line.sku, kind=RESERVE, delta_on_hand=0, delta_reserved=line.quantity,
                 reason="checkout", actor=customer_id or "guest", reference=order.order_id)
        for line in priced.lines
    ]
    voucher = priced.applied_voucher
    first_attempt = [account]  # the quote's account; every retry reads the account again

    def stage(tx: TransactWrite) -> None:
        cart_repository.stage_checkout(tx, cart, order.order_id)
        orders.stage_create(tx, order)
        if voucher:
            vouchers.stage_use(tx, voucher)
        if points_discount and customer_id:
            # written only if unchanged since read: a concurrent checkout that spent the same points wins, this one
            # is decided again on a fresh read and refused (422 insufficient_points) if the balance no longer covers it
            loyalty.stage_redemption(tx, customer_id=customer_id, order_id=order.order_id,
                                     points=request.redeem_points, contact=request.customer, at=order.created_at,
                                     account=first_attempt.pop() if first_attempt else None)

    def explain(failed_tables: set[str]) -> DomainError | None:
        if resources.CARTS.physical_name in failed_tables:
            return Conflict("the cart changed or was checked out meanwhile; reload it", code="cart_conflict")
        if resources.VOUCHERS.physical_name in failed_tables:
            return Conflict(f"voucher {voucher.code if voucher else ''} has just been used up", code="voucher_used_up")
        return None

    # The stock levels priced are the first attempt's: the transaction writes each only at the version read.
    inventory.commit_movements(movements, stage_extra=stage, explain_failure=explain, retry_tables=loyalty.TABLES,
                               levels=reads.levels)
    payment = _after_order_placed(order)
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Revenue", unit=MetricUnit.NoUnit, value=order.totals.total)  # whole Rupiah
    logger.info("order placed", extra={"order_id": order.order_id, "total": order.totals.total,
                                       "payment_method": order.payment_method})
    return {
        **order.to_dict(),
        "payment": payment,
        "access_token": token,
    }


def _after_order_placed(order: Order) -> dict[str, Any] | None:
    """Payment instructions and the fulfilment workflow, whose first step tells the customer the order is placed.

    The order is already committed: a failure here must not turn a placed order into an error, so each
    part is retried by its own safety net (the reconciliation schedule charges and starts workflows).
    """
    payment = payments.start_payment(order)
    try:
        order_service.start_workflow(order)
    except Exception:
        logger.exception("fulfilment workflow did not start", extra={"order_id": order.order_id})
        _tell_order_placed(order, payment)
    return payment


def _tell_order_placed(order: Order, payment: dict[str, Any] | None) -> None:
    """Without a workflow to tell the customer, the checkout does; the workflow started later by the reconciliation
    asks again, and the notifications area still sends one message per (order, event)."""
    try:
        notifications.request("order_placed", {**order.to_dict(), "payment": payment}, {"payment": payment})
    except Exception:
        logger.exception("order-placed notification not queued", extra={"order_id": order.order_id})
