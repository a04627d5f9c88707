"""Loyalty's HTTP contract (see chalicelib.contract): a customer's points, staff views and admin adjustments."""

from __future__ import annotations

from chalicelib.contract import (
    Operation,
    Response,
    Schema,
    array,
    boolean,
    integer,
    money,
    nullable,
    obj,
    page_query,
    ref,
    signed_in,
    string,
    timestamp,
    trimmed,
)
from chalicelib.loyalty.domain import KINDS
from chalicelib.loyalty.routes import CUSTOMER_ID_PATTERN, MAX_ADJUSTMENT, REFERENCE_PATTERN

CUSTOMER_ID = string(pattern=trimmed(CUSTOMER_ID_PATTERN), max_len=128, description="the customer's user id (sub)")
PAGE_QUERY = page_query("ledger entries")

SCHEMAS: dict[str, Schema] = {
    "LoyaltyEntry": obj(
        {
            "seq": integer(minimum=1, description="the entry's number in the customer's ledger"),
            "at": timestamp(),
            "kind": string(enum=KINDS),
            "delta": integer(description="what the balance moved"),
            "balance": integer(description="after this entry"),
            "note": string(),
            "order_id": nullable(string()),
        },
        {
            "reference": string(description="an adjustment's reference"),
            "shortfall": integer(description="what a reversal should have taken but the balance no longer held"),
            "expires_at": timestamp("credits: when what is left of them expires"),
        },
        description="One line of the points ledger.",
    ),
    "LoyaltyAccount": obj({
        "customer_id": string(),
        "balance": integer(minimum=0, description="points"),
        "balance_value": money("what the balance is worth at checkout"),
        "totals": obj({
            "balance": integer(minimum=0),
            "earned": integer(minimum=0),
            "redeemed": integer(minimum=0),
            "returned": integer(minimum=0),
            "reversed": integer(minimum=0),
            "shortfall": integer(minimum=0),
            "expired": integer(minimum=0),
            "adjusted": integer(description="added less taken away by staff"),
        }),
        "next_expiry": nullable(obj({
            "points": integer(minimum=1),
            "expires_at": nullable(timestamp()),
            "soon": boolean(description="within the warning period"),
        })),
        "earnings_to_come": array(obj({
            "order_id": string(),
            "redeemed": integer(minimum=0),
            "returned": integer(minimum=0),
            "earns": integer(minimum=0),
            "earn_due_at": nullable(timestamp("when the return window closes and the points are credited")),
            "earned_at": nullable(timestamp()),
            "credited": integer(minimum=0),
        }), description="orders whose points are credited once their return window closes"),
        "rules": obj({
            "earn_rupiah": integer(minimum=1, description="Rupiah paid for one point"),
            "point_value": integer(minimum=0, description="Rupiah one point takes off at checkout"),
            "max_share_percent": integer(minimum=0, maximum=100, description="of an order points may pay"),
            "expiry_months": integer(minimum=0),
        }),
        "ledger": obj({
            "items": array(ref("LoyaltyEntry"), description="newest first"),
            "cursor": nullable(string(description="pass as ?cursor= for the next page; null on the last")),
        }),
    }, description="A customer's points: balance, its value, the next expiry, earnings to come and the ledger."),
}

OPERATIONS = {
    "my_points": Operation(
        summary="The signed-in customer's points: balance, value, next expiry, earnings to come, the ledger (paged).",
        access=signed_in("customer"),
        query=PAGE_QUERY,
        responses={200: Response("the customer's points", ref("LoyaltyAccount"))},
    ),
    "customer_points": Operation(
        summary="Any customer's points (customer service and finance).",
        access=signed_in("staff", "finance"),
        path={"customer_id": CUSTOMER_ID},
        query=PAGE_QUERY,
        responses={200: Response("the customer's points (an unknown customer has none)", ref("LoyaltyAccount"))},
    ),
    "adjust_points": Operation(
        summary="Add (goodwill) or take away (a correction) a customer's points, once per reference: the same"
                " reference again answers the first entry.",
        access=signed_in("admin"),
        path={"customer_id": CUSTOMER_ID},
        body=obj({
            "points": {**integer(minimum=-MAX_ADJUSTMENT, maximum=MAX_ADJUSTMENT,
                                 description="positive adds, negative takes away; not 0"), "not": {"const": 0}},
            "reason": string(min_len=3, max_len=200, description="3+ characters, not counting surrounding blanks"),
            "reference": string(pattern=trimmed(REFERENCE_PATTERN), max_len=64,
                                description="a ticket or campaign: one adjustment per reference"),
        }),
        responses={201: Response("the ledger entry", ref("LoyaltyEntry"))},
        errors={409: "the customer's points kept changing (points_busy): try again",
                422: "takes away more than the balance (insufficient_points)"},
    ),
}
