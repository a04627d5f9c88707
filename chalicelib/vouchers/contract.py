"""The vouchers' HTTP contract (see chalicelib.contract): staff create and list them; carts and checkout apply
them (documented there)."""

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
    one_of,
    page_query,
    ref,
    signed_in,
    string,
    timestamp,
)
from chalicelib.validation import MAX_MONEY
from chalicelib.vouchers.domain import (
    CODE_INPUT_PATTERN,
    CODE_MAX,
    CODE_PATTERN,
    FIXED,
    KINDS,
    MAX_FIXED_VALUE,
    MAX_PERCENT,
    MAX_USAGE_LIMIT,
    PERCENT,
    TIME_MAX,
    TIME_PATTERN,
)
from chalicelib.vouchers.routes import PAGE_DEFAULT

STAFF = signed_in("staff")

SCHEMAS: dict[str, Schema] = {
    "Voucher": obj({
        "code": string(pattern=CODE_PATTERN),
        "kind": string(enum=KINDS, description="percent: value % off the subtotal; fixed: value Rupiah off"),
        "value": integer(minimum=1),
        "min_spend": money(description="the subtotal the cart needs, whole Rupiah"),
        "max_discount": nullable(money(description="the most a percent voucher takes off; null: no cap")),
        "usage_limit": nullable(integer(minimum=1, description="null: unlimited")),
        "used": integer(minimum=0, description="orders placed with it"),
        "valid_from": nullable(timestamp()),
        "valid_until": nullable(timestamp()),
        "active": boolean(),
    }),
}

_TIME = nullable(string(pattern=TIME_PATTERN, max_len=TIME_MAX, fmt="date-time",
                        description="UTC with a Z, e.g. 2026-01-31T17:00:00Z"))
_COMMON_REQUIRED: dict[str, Schema] = {
    "code": string(pattern=CODE_INPUT_PATTERN, max_len=CODE_MAX, description="3-32 letters, digits, - or _;"
                                                                                " stored upper-case"),
}
_COMMON_OPTIONAL: dict[str, Schema] = {
    "min_spend": nullable(integer(minimum=0, maximum=MAX_MONEY, description="default 0")),
    "usage_limit": nullable(integer(minimum=1, maximum=MAX_USAGE_LIMIT, description="default unlimited")),
    "valid_from": _TIME,
    "valid_until": {**_TIME, "description": "after valid_from"},
    "active": nullable(boolean(description="default true")),
}
_NEW_VOUCHER = one_of(
    obj({**_COMMON_REQUIRED, "kind": string(enum=[PERCENT]), "value": integer(minimum=1, maximum=MAX_PERCENT)},
        {**_COMMON_OPTIONAL, "max_discount": nullable(integer(minimum=1, maximum=MAX_MONEY))},
        description="value % off the subtotal, capped by max_discount if given"),
    obj({**_COMMON_REQUIRED, "kind": string(enum=[FIXED]), "value": integer(minimum=1, maximum=MAX_FIXED_VALUE)},
        _COMMON_OPTIONAL, description="value Rupiah off the subtotal"),
)

OPERATIONS = {
    "list_vouchers": Operation(
        summary="The vouchers by code, a page at a time (staff).",
        access=STAFF,
        query=page_query("vouchers", default=PAGE_DEFAULT),
        responses={200: Response("one page of vouchers", obj({
            "items": array(ref("Voucher"), description="by code"),
            "next_cursor": nullable(string(description="null on the last page")),
        }))},
    ),
    "create_voucher": Operation(
        summary="Create a voucher code (staff).",
        access=STAFF,
        body=_NEW_VOUCHER,
        responses={201: Response("the new voucher", ref("Voucher"))},
        errors={409: "a voucher with this code exists (voucher_exists)"},
    ),
}
