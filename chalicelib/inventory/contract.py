"""The inventory's HTTP contract (see chalicelib.contract): staff read stock and move it, one ledger line each."""

from __future__ import annotations

from chalicelib.contract import (
    Operation,
    Response,
    Schema,
    array,
    boolean,
    integer,
    nullable,
    obj,
    ref,
    signed_in,
    string,
    timestamp,
)
from chalicelib.inventory.domain import (
    KINDS,
    MAX_LEDGER_LINES,
    MAX_LEVELS_PAGE,
    MAX_LOW_STOCK_THRESHOLD,
    MAX_MOVEMENT,
    REASON_MAX,
)
from chalicelib.inventory.routes import CURSOR_MAX
from chalicelib.validation import SKU_PATTERN

STAFF = signed_in("staff")
SKU = string(pattern=SKU_PATTERN, max_len=64, description="the variant's SKU (case-insensitive)")

_LEVEL_FIELDS: dict[str, Schema] = {
    "sku": string(),
    "product_id": string(),
    "on_hand": integer(minimum=0, description="units in the warehouse"),
    "reserved": integer(minimum=0, description="units held for open orders"),
    "available": integer(minimum=0, description="on hand minus reserved: what can be sold"),
    "low_stock_threshold": integer(minimum=0),
    "low_stock": boolean(description="available is at or under the threshold"),
}

SCHEMAS: dict[str, Schema] = {
    "StockLevel": obj(_LEVEL_FIELDS, description="One SKU's stock now."),
    "StockLedgerLine": obj({
        "at": timestamp(),
        "kind": string(enum=KINDS),
        "reason": string(),
        "actor": string(description="who moved the stock (a staff member, checkout, a return, ...)"),
        "reference": nullable(string(description="the order, return or product the movement belongs to")),
        "delta_on_hand": integer(),
        "delta_reserved": integer(),
        "on_hand_after": integer(minimum=0),
        "reserved_after": integer(minimum=0),
        "available_after": integer(minimum=0),
    }),
    "LowStockLine": obj({
        **_LEVEL_FIELDS,
        "reserved_last_30_days": integer(description="units ordered in the last 30 days"),
        "suggested_reorder": integer(minimum=0, description="enough for the lead time and a month of sales"),
    }),
}

_LEVEL = Response("the SKU's stock after the change", ref("StockLevel"))
_UNKNOWN = "no such SKU"
_BUSY = "the stock kept changing while the change was tried (stock_busy); try again"

OPERATIONS = {
    "list_inventory": Operation(
        summary="Every SKU's stock, or (low_stock=true) the low-stock report with reorder suggestions, a page at a"
                " time.",
        access=STAFF,
        query={
            "low_stock": string(enum=["true", "false"], description="default false"),
            "limit": integer(minimum=1, maximum=MAX_LEVELS_PAGE, description="default 100"),
            "cursor": string(min_len=1, max_len=CURSOR_MAX, description="next_cursor of the previous page, with the"
                                                                        " same low_stock"),
        },
        # anyOf, not oneOf: an empty page is a page of either list
        responses={200: Response("a page of stock levels, or of the low-stock report", {"anyOf": [
            obj({"items": array(ref("StockLevel")),
                 "next_cursor": nullable(string(description="null on the last page"))}),
            obj({"items": array(ref("LowStockLine"), description="by SKU"),
                 "next_cursor": nullable(string(description="null on the last page"))},
                description="low_stock=true"),
        ]})},
    ),
    "get_stock": Operation(
        summary="One SKU's stock with its latest ledger lines, newest first.",
        access=STAFF,
        path={"sku": SKU},
        query={"ledger_limit": integer(minimum=1, maximum=MAX_LEDGER_LINES, description="default 50")},
        responses={200: Response("the level and its ledger", obj({
            **_LEVEL_FIELDS, "ledger": array(ref("StockLedgerLine"))}))},
        errors={404: _UNKNOWN},
    ),
    "restock": Operation(
        summary="Goods arrived: add them to on hand.",
        access=STAFF,
        path={"sku": SKU},
        body=obj({"quantity": integer(minimum=1, maximum=MAX_MOVEMENT)},
                 {"reason": nullable(string(min_len=1, max_len=REASON_MAX, description="default restock"))}),
        responses={200: _LEVEL},
        errors={404: _UNKNOWN,
                409: f"on hand would exceed its maximum (invalid_stock_movement), or {_BUSY}"},
    ),
    "adjust": Operation(
        summary="Correct a count (either sign), saying why.",
        access=STAFF,
        path={"sku": SKU},
        body=obj({
            "delta": {**integer(minimum=-MAX_MOVEMENT, maximum=MAX_MOVEMENT, description="never 0"),
                      "not": {"const": 0}},
            "reason": string(min_len=1, max_len=REASON_MAX),
        }),
        responses={200: _LEVEL},
        errors={404: _UNKNOWN,
                409: "on hand would go below zero, below what is reserved or above its maximum"
                     f" (invalid_stock_movement), or {_BUSY}"},
    ),
    "set_threshold": Operation(
        summary="Set the level at or under which the SKU counts as low on stock.",
        access=STAFF,
        path={"sku": SKU},
        body=obj({"low_stock_threshold": integer(minimum=0, maximum=MAX_LOW_STOCK_THRESHOLD)}),
        responses={200: _LEVEL},
        errors={404: _UNKNOWN, 409: _BUSY},
    ),
}
