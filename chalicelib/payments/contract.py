"""The payments' HTTP contract (see chalicelib.contract): the gateway's webhook, held card payments, and money going
back (what a customer got back, the bank account a payout goes to, finance's payouts and refunds)."""

from __future__ import annotations

from chalicelib.auth.domain import ADMIN, FINANCE
from chalicelib.contract import (
    GUEST_OR_SIGNED_IN,
    WEBHOOK,
    Operation,
    Response,
    Schema,
    array,
    integer,
    money,
    nullable,
    obj,
    page_limit,
    ref,
    signed_in,
    string,
    timestamp,
)
from chalicelib.orders.contract import (
    ORDER_ACCESS,
    ORDER_ID,
    ORDER_NOT_FOUND,
    ORDER_TOKEN_HEADERS,
    ORDER_TOKEN_QUERIES,
    text_line,
    trimmed,
)
from chalicelib.payments.notification import MAX_ORDER_ID_LENGTH
from chalicelib.payments.refunds import BANKS, PAYOUT, PAYOUT_STATUSES, TRANSFER_REFERENCE_PATTERN
from chalicelib.payments.repository import REFUND
from chalicelib.payments.service import REVIEW_DECISIONS
from chalicelib.validation import CONTACT_NAME_MAX, ID_PATTERN, MAX_MONEY

ACCOUNT_NUMBER_PATTERN = r"(?:[ \-]*[0-9]){6,20}[ \-]*"
_TEXT_OR_NULL = {"type": ["string", "null"]}

MONEY_BACK: dict[str, Schema] = {
    "order_id": ORDER_ID,
    "returned_total": money("money that went back to the customer so far"),
    "refunded_total": money("money promised back on the order (gateway refunds and payouts)"),
    "captured": money("money the shop holds for the order: paid, collected, less chargebacks"),
    "refunds": array(obj({
        "kind": string(enum=[REFUND, PAYOUT], description="refund: through the gateway; payout: bank transfer"),
        "amount": money(),
        "reference": string(),
        "at": timestamp(),
    }), description="money that went back, oldest first"),
    "payouts": array(ref("Payout"), description="bank transfers, paid or waiting"),
}

SCHEMAS: dict[str, Schema] = {
    "PayoutAccount": obj({
        "bank": string(enum=BANKS),
        "account_number": string(description="digits; to anyone but finance only the last four show (****1234)"),
        "account_holder": string(),
    }),
    "Payout": obj({
        "payout_id": string(),
        "order_id": ORDER_ID,
        "amount": money(),
        "reason": string(),
        "status": string(enum=PAYOUT_STATUSES,
                         description="awaiting_account: the customer gives a bank account; pending: finance"
                                     " transfers; paid: done"),
        "created_at": timestamp(),
        "account": nullable(ref("PayoutAccount")),
        "transfer_reference": nullable(string(description="the bank transfer's reference, from finance")),
        "paid_at": nullable(timestamp()),
    }, description="A refund the shop pays by bank transfer (the gateway cannot refund that payment)."),
    "MoneyBack": obj(MONEY_BACK, description="What a customer got back or is waiting for."),
    "MidtransNotification": {
        "type": "object",
        "description": "Midtrans' HTTP notification, signed: signature_key is sha512(order_id + status_code +"
                       " gross_amount + server key) in hex. Fields not listed are accepted (Midtrans adds them by"
                       " payment type); the shop acts on the status API's answer, not on this body.",
        "required": ["order_id", "status_code", "gross_amount", "transaction_status", "signature_key"],
        "properties": {
            "order_id": string(min_len=1, max_len=MAX_ORDER_ID_LENGTH),
            "status_code": string(min_len=1, example="200"),
            "gross_amount": string(pattern=r"[0-9]+(?:\.0+)?", description="whole Rupiah as text, e.g. 150000.00",
                                   example="150000.00"),
            "transaction_status": string(min_len=1, description="pending, settlement, capture, deny, cancel, expire,"
                                                               " failure, refund, partial_refund, chargeback, ..."),
            "signature_key": string(min_len=1),
            "transaction_id": _TEXT_OR_NULL,
            "fraud_status": _TEXT_OR_NULL,
            "payment_type": _TEXT_OR_NULL,
            "transaction_time": _TEXT_OR_NULL,
            "settlement_time": _TEXT_OR_NULL,
            "permata_va_number": _TEXT_OR_NULL,
            "va_numbers": {"type": ["array", "null"], "items": {
                "type": "object", "required": ["bank", "va_number"],
                "properties": {"bank": string(), "va_number": string()}}},
        },
    },
}

_ORDER_ONE = {"order_id": ORDER_ID}
_ACK = obj({"status": string(enum=["accepted", "duplicate"],
                             description="accepted: recorded and queued; duplicate: this very notification came"
                                         " before")})
_FINANCE = signed_in(FINANCE, ADMIN)

OPERATIONS = {
    "midtrans_notification": Operation(
        summary="Midtrans reports a transaction: verified by its signature, recorded once, queued; the order moves"
                " on what the gateway's status API then says.",
        access=WEBHOOK,
        body=ref("MidtransNotification"),
        responses={200: Response("acknowledged", _ACK)},
        errors={401: "signature_key does not match (invalid_signature)",
                503: "the notification could not be queued (queue_unavailable): Midtrans sends it again"},
    ),
    "money_back": Operation(
        summary="What the customer got back or is waiting for: gateway refunds and bank-transfer payouts.",
        description=ORDER_ACCESS,
        access=GUEST_OR_SIGNED_IN,
        path=_ORDER_ONE,
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        responses={200: Response("the order's money going back", ref("MoneyBack"))},
        errors={404: ORDER_NOT_FOUND},
    ),
    "refund_account": Operation(
        summary="The bank account the order's waiting payouts are transferred to (refunds the gateway cannot make).",
        description=ORDER_ACCESS,
        access=GUEST_OR_SIGNED_IN,
        path=_ORDER_ONE,
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=obj({
            "bank": string(enum=BANKS),
            "account_number": string(pattern=ACCOUNT_NUMBER_PATTERN,
                                     description="6 to 20 digits; spaces and hyphens as people write them are"
                                                 " dropped"),
            "account_holder": text_line(CONTACT_NAME_MAX, "the account holder's name"),
        }),
        responses={200: Response("the payouts now waiting for finance (account numbers masked)",
                                 obj({"items": array(ref("Payout"))}))},
        errors={404: ORDER_NOT_FOUND, 409: "no payout of the order waits for a bank account (no_payout_waiting)"},
    ),
    "payouts": Operation(
        summary="Payouts in one status, oldest first (finance).",
        access=_FINANCE,
        query={"status": string(enum=PAYOUT_STATUSES, description="default pending"),
               "limit": page_limit("payouts", default=50)},
        responses={200: Response("the payouts, with whole account numbers", obj({"items": array(ref("Payout"))}))},
    ),
    "payout_paid": Operation(
        summary="Finance made the bank transfer: its reference closes the payout and the refund is recorded."
                " The same reference again answers the payout unchanged.",
        access=_FINANCE,
        path={"payout_id": string(pattern=trimmed(ID_PATTERN), max_len=64)},
        body=obj({"reference": string(pattern=trimmed(TRANSFER_REFERENCE_PATTERN), max_len=64,
                                      description="the bank transfer's reference")}),
        responses={200: Response("the payout, paid", ref("Payout"))},
        errors={404: "no such payout (payout_not_found)",
                409: "already paid with another reference (payout_already_paid), or no bank account yet"
                     " (payout_not_ready)"},
    ),
    "refund": Operation(
        summary="Give part of an order's money back (goodwill, a price error) through the gateway or, when it cannot,"
                " a payout. The same refund_key again answers the same refund.",
        access=_FINANCE,
        path=_ORDER_ONE,
        body=obj({
            "amount": integer(minimum=1, maximum=MAX_MONEY, description="whole Rupiah"),
            "reason": string(min_len=3, max_len=200, description="3+ characters, not counting surrounding blanks"),
            "refund_key": string(pattern=trimmed(ID_PATTERN), max_len=64,
                                 description="names this refund: retry with it"),
        }),
        responses={201: Response("the refund, and the order's money going back", obj({
            "refund_key": string(description="manual-<refund_key>"),
            "amount": money("what this refund gives back"),
            "by": string(enum=["gateway", "payout"]),
            "payout": nullable(ref("Payout")),
            **MONEY_BACK,
        }, description="The refund and, as GET /orders/{order_id}/refunds, the order's money going back."))},
        errors={404: "no such order (order_not_found)",
                409: "the order has nothing to refund from its status, or it kept changing (order_conflict)",
                422: "more than was paid and not yet refunded (refund_exceeds_paid)",
                503: "the gateway did not answer (provider_unavailable) or takes no refunds of this kind at this hour"
                     " (refund_deferred): ask again with the same refund_key"},
    ),
    "payment_review": Operation(
        summary="Accept or deny a card payment the gateway's fraud check holds, through the gateway's approve/deny.",
        access=signed_in("staff"),
        path=_ORDER_ONE,
        body=obj({"decision": string(enum=REVIEW_DECISIONS)}),
        responses={200: Response("the decision, what it did, and the order", obj({
            "decision": string(enum=REVIEW_DECISIONS),
            "result": string(description="what the gateway's answer did to the order"),
            "order": ref("Order"),
        }))},
        errors={404: "no such order (order_not_found)",
                409: "no payment of the order is held for review (payment_not_held)",
                503: "the gateway did not take the decision (gateway_unavailable): try again"},
    ),
}
