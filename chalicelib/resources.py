"""The one source of truth for every AWS resource the application uses.

The pynamodb models, the local stack's provisioner and the CDK stack all read these specs, so a table,
queue, bucket or state machine is named and shaped in exactly one place. Pure data: no AWS imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chalicelib import config


@dataclass(frozen=True)
class Key:
    name: str
    type: str = "S"  # "S" string or "N" number


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: Key
    range_key: Key | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str  # logical name; the physical name is "<prefix>-<name>"
    hash_key: Key
    range_key: Key | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    critical: bool = False  # holds money or stock history: deletion protection on AWS

    @property
    def physical_name(self) -> str:
        return f"{config.prefix()}-{self.name}"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    visibility_timeout_seconds: int = 60
    max_receive_count: int = 5  # deliveries before a message moves to the dead-letter queue

    @property
    def physical_name(self) -> str:
        return f"{config.prefix()}-{self.name}"

    @property
    def dlq_physical_name(self) -> str:
        return f"{config.prefix()}-{self.name}-dlq"


@dataclass(frozen=True)
class BucketSpec:
    name: str
    versioned: bool = False
    # Objects under this prefix are shown to shoppers: through CloudFront on AWS (the bucket itself stays
    # private), through a read-only bucket policy on the local stack.
    served_prefix: str | None = None

    @property
    def physical_name(self) -> str:
        return f"{config.prefix()}-{self.name}"


@dataclass(frozen=True)
class StateMachineSpec:
    name: str
    definition_file: str  # relative to the repository root
    substitutions: dict[str, str] = field(default_factory=dict)

    @property
    def physical_name(self) -> str:
        return f"{config.prefix()}-{self.name}"


# Products, with one sparse index per storefront order: the shelf (every listed product) and each category's shelf,
# by newest, lowest price, highest price and rating; a page reads only its own rows. `changes` is the change feed
# the search index follows (every product by when it last changed).
PRODUCTS = TableSpec(
    "products",
    Key("product_id"),
    indexes=(
        IndexSpec("by-status", Key("status"), Key("created_at")),
        IndexSpec("shelf-newest", Key("shelf"), Key("created_at")),
        IndexSpec("shelf-price-low", Key("shelf"), Key("price_min", "N")),
        IndexSpec("shelf-price-high", Key("shelf"), Key("price_max", "N")),
        IndexSpec("shelf-rating", Key("shelf"), Key("rating_rank", "N")),
        IndexSpec("category-newest", Key("shelf_category"), Key("created_at")),
        IndexSpec("category-price-low", Key("shelf_category"), Key("price_min", "N")),
        IndexSpec("category-price-high", Key("shelf_category"), Key("price_max", "N")),
        IndexSpec("category-rating", Key("shelf_category"), Key("rating_rank", "N")),
        IndexSpec("changes", Key("change_feed"), Key("changed_at")),
    ),
)
# How many listed products each category holds, kept in the same transaction as every product write: /categories
# reads these few items, never the products.
CATEGORIES = TableSpec("categories", Key("slug"))
STOCK = TableSpec(
    "stock",
    Key("sku"),
    indexes=(IndexSpec("low-stock", Key("low_stock"), Key("sku")),),  # sparse: only SKUs at or under threshold
    critical=True,
)
STOCK_LEDGER = TableSpec("stock-ledger", Key("sku"), Key("entry_id"), critical=True)
CARTS = TableSpec("carts", Key("cart_id"), ttl_attribute="expires_at")
# Voucher codes; `by-code` holds every voucher under the one `listing` value, so staff page through them by code.
VOUCHERS = TableSpec("vouchers", Key("code"), indexes=(IndexSpec("by-code", Key("listing"), Key("code")),))
ORDERS = TableSpec(
    "orders",
    Key("order_id"),
    indexes=(
        IndexSpec("by-customer", Key("customer_id"), Key("created_at")),
        IndexSpec("by-status", Key("status"), Key("created_at")),
        IndexSpec("by-shipment", Key("shipment_ref")),
        IndexSpec("by-activity", Key("activity_day"), Key("updated_at")),
    ),
    critical=True,
)
IDEMPOTENCY = TableSpec("idempotency", Key("id"), ttl_attribute="expiration")
# Every provider message (payment gateway, courier) recorded once: duplicates are acknowledged and ignored.
WEBHOOK_INBOX = TableSpec("webhook-inbox", Key("message_id"), ttl_attribute="expires_at")
# The money ledger: payments received, refunds, cash collected on delivery; one partition per order.
PAYMENT_LEDGER = TableSpec("payment-ledger", Key("order_id"), Key("entry_id"), critical=True)
# Refunds the gateway cannot make (virtual account, COD, window passed): bank transfers finance makes by hand.
PAYOUTS = TableSpec("payouts", Key("payout_id"),
                    indexes=(IndexSpec("by-status", Key("status"), Key("created_at")),
                             IndexSpec("by-order", Key("order_id"), Key("created_at"))),
                    critical=True)
# Customer returns and courier returns-to-sender: one item per return, its lines, inspection and refund.
RETURNS = TableSpec("returns", Key("return_id"),
                    indexes=(IndexSpec("by-order", Key("order_id"), Key("created_at")),
                             IndexSpec("by-status", Key("status"), Key("created_at"))),
                    critical=True)
# Per-day counters for sales reports, the markers that count each order fact once, first purchases.
ROLLUPS = TableSpec("report-rollups", Key("pk"), Key("sk"), critical=True)
# Sales reports built for finance: status and files (the files themselves are in the reports bucket).
REPORTS = TableSpec("reports", Key("report_id"),
                    indexes=(IndexSpec("by-period", Key("period"), Key("date_from")),))
# Product reviews by customers whose order line was completed: one per order line (review id "<order>#<sku>").
REVIEWS = TableSpec("reviews", Key("review_id"),
                    indexes=(IndexSpec("by-product", Key("product_id"), Key("created_at")),
                             IndexSpec("by-status", Key("status"), Key("created_at"))))
# Customer service tickets and their messages (one item per ticket, messages inside).
TICKETS = TableSpec("tickets", Key("ticket_id"),
                    indexes=(IndexSpec("by-status", Key("status"), Key("waiting_since")),
                             IndexSpec("by-order", Key("order_id"), Key("created_at")),
                             IndexSpec("by-customer", Key("customer_id"), Key("created_at"))))
# Loyalty points: per customer one "account" item (balance, totals) and the ledger ("entry#<seq>"); credits not yet
# of age are in by-expiry (sparse: expiry_bucket is removed when they come of age).
LOYALTY = TableSpec("loyalty", Key("customer_id"), Key("sk"),
                    indexes=(IndexSpec("by-expiry", Key("expiry_bucket"), Key("expires_at")),), critical=True)
# The loyalty side of each order: points spent, the earning due when its return window closes (by-due, sparse),
# what went back; by-customer lists a customer's earnings still to come.
LOYALTY_ORDERS = TableSpec("loyalty-orders", Key("order_id"),
                           indexes=(IndexSpec("by-due", Key("due_bucket"), Key("earn_due_at")),
                                    IndexSpec("by-customer", Key("customer_id"), Key("earn_due_at"))),
                           critical=True)
# The sandbox payment gateway's own books (what a real gateway keeps on its side); unused with Midtrans.
SANDBOX_PAYMENTS = TableSpec("sandbox-payments", Key("order_id"))
# The sandbox courier's own books (what a real courier keeps on its side): its bookings under the shop's reference
# ("reference#<order id>", each booking's journey inside), "booking#<id>" pointers, and armed faults
# ("fault#booking", "fault#webhook"); unused with Biteship.
SANDBOX_COURIERS = TableSpec("sandbox-couriers", Key("item_id"))
# Customer notifications: one item per (order, event), so a redelivered event never notifies twice.
NOTIFICATIONS = TableSpec("notifications", Key("notification_id"),
                          indexes=(IndexSpec("by-order", Key("order_id"), Key("created_at")),))

TABLES: tuple[TableSpec, ...] = (
    PRODUCTS, CATEGORIES, STOCK, STOCK_LEDGER, CARTS, VOUCHERS, ORDERS, IDEMPOTENCY, WEBHOOK_INBOX, PAYMENT_LEDGER,
    PAYOUTS, RETURNS, ROLLUPS, REPORTS, REVIEWS, TICKETS, LOYALTY, LOYALTY_ORDERS, SANDBOX_PAYMENTS, NOTIFICATIONS,
    SANDBOX_COURIERS,
)

LOW_STOCK_QUEUE = QueueSpec("low-stock")
# Python steps of the fulfilment state machine (sqs:sendMessage.waitForTaskToken).
FULFILMENT_TASKS_QUEUE = QueueSpec("fulfilment-tasks", visibility_timeout_seconds=90)
PAYMENT_EVENTS_QUEUE = QueueSpec("payment-events", visibility_timeout_seconds=90)
COURIER_EVENTS_QUEUE = QueueSpec("courier-events", visibility_timeout_seconds=90)
NOTIFICATIONS_QUEUE = QueueSpec("notifications", visibility_timeout_seconds=90)
# Python steps of the returns state machine.
RETURN_TASKS_QUEUE = QueueSpec("return-tasks", visibility_timeout_seconds=90)
# Report builds finance asks for (and the schedules queue): one message per report, built by a worker.
REPORT_BUILDS_QUEUE = QueueSpec("report-builds", visibility_timeout_seconds=900, max_receive_count=3)

QUEUES: tuple[QueueSpec, ...] = (
    LOW_STOCK_QUEUE, FULFILMENT_TASKS_QUEUE, PAYMENT_EVENTS_QUEUE, COURIER_EVENTS_QUEUE, NOTIFICATIONS_QUEUE,
    RETURN_TASKS_QUEUE, REPORT_BUILDS_QUEUE,
)

MEDIA_BUCKET = BucketSpec("media", served_prefix="products/")
REPORTS_BUCKET = BucketSpec("reports", versioned=True)
# The embedded search engine's index file (catalog search): rebuilt from the products table at any time.
SEARCH_BUCKET = BucketSpec("search")

BUCKETS: tuple[BucketSpec, ...] = (MEDIA_BUCKET, REPORTS_BUCKET, SEARCH_BUCKET)

FULFILMENT_STATE_MACHINE = StateMachineSpec("fulfilment", "statemachines/fulfilment.asl.json")

RETURNS_STATE_MACHINE = StateMachineSpec("returns", "statemachines/returns.asl.json")

STATE_MACHINES: tuple[StateMachineSpec, ...] = (FULFILMENT_STATE_MACHINE, RETURNS_STATE_MACHINE)

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
