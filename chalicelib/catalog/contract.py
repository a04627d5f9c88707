"""The catalog's HTTP contract (see chalicelib.contract): public browsing, staff product management.

Optional request fields may also be sent as null, which the validators read as absent.
"""

from __future__ import annotations

from chalicelib.catalog.domain import (
    CATEGORY_MAX,
    DESCRIPTION_MAX,
    IMAGE_KEY_MAX,
    IMAGE_KEY_PATTERN,
    IMAGE_TYPES,
    IMAGE_URL_PATTERN,
    MAX_DIMENSION_CM,
    MAX_IMAGES,
    MAX_PRICE,
    MAX_VARIANTS,
    MAX_WEIGHT_GRAMS,
    NAME_MAX,
    SORTS,
    STATUSES,
)
from chalicelib.catalog.routes import CATEGORY_FILTER_MAX, CURSOR_MAX, SEARCH_MAX
from chalicelib.contract import (
    PUBLIC,
    Operation,
    Response,
    Schema,
    array,
    boolean,
    integer,
    money,
    nullable,
    number,
    obj,
    page_query,
    ref,
    signed_in,
    str_map,
    string,
    timestamp,
)
from chalicelib.inventory.domain import MAX_LOW_STOCK_THRESHOLD, MAX_ON_HAND
from chalicelib.validation import ID_PATTERN, MAX_PAGE, SKU_PATTERN

PRODUCT_ID = string(pattern=ID_PATTERN, description="the product's id, e.g. prd_1a2b3c4d5e6f")
STAFF = signed_in("staff")

# ---- what the catalog answers ----------------------------------------------------------------------------------

_DIMENSIONS = {name: integer(minimum=1, maximum=MAX_DIMENSION_CM) for name in ("length_cm", "width_cm", "height_cm")}
_VARIANT_FIELDS: dict[str, Schema] = {
    "sku": string(description="upper-case, unique in the whole shop"),
    "price": money(),
    "weight_grams": integer(minimum=0),
    "options": str_map(string(), description="e.g. {\"size\": \"M\", \"color\": \"indigo\"}"),
    "dimensions": nullable(obj(_DIMENSIONS, description="the packed size, in whole centimetres")),
    "active": boolean(description="false: no longer sold (shown to staff on draft products only)"),
}
_PRODUCT_FIELDS: dict[str, Schema] = {
    "product_id": string(),
    "name": string(),
    "description": string(),
    "category": obj({"slug": string(), "name": string()}),
    "status": string(enum=STATUSES),
    "price_min": money(description="the cheapest active variant (0 when none is active)"),
    "price_max": money(description="the dearest active variant (0 when none is active)"),
    "currency": string(enum=["IDR"]),
    "images": array(string(description="an http(s) URL")),
    "rating": ref("ProductRating"),
    "created_at": timestamp(),
    "updated_at": timestamp(),
}

SCHEMAS: dict[str, Schema] = {
    "ProductRating": obj({
        "average": nullable(number(minimum=1, maximum=5, description="one decimal; null before any approved review")),
        "count": integer(minimum=0, description="approved reviews"),
    }),
    "ProductVariant": obj({
        **_VARIANT_FIELDS,
        "available": integer(minimum=0, description="units that can be sold now (on hand minus reserved)"),
        "in_stock": boolean(),
    }),
    "Product": obj({**_PRODUCT_FIELDS, "variants": array(ref("ProductVariant")), "in_stock": boolean()},
                   description="One product with each variant's stock now."),
    "ProductListed": obj({**_PRODUCT_FIELDS, "variants": array(ref("ProductVariant")), "in_stock": boolean()},
                         description="A product in a list, with its variants' stock (read for the page's SKUs only)."),
    "Category": obj({"slug": string(), "name": string(), "product_count": integer(minimum=1)}),
}

# ---- what staff send ---------------------------------------------------------------------------------------------

VARIANT_BODY = obj(
    {
        "sku": string(pattern=SKU_PATTERN, max_len=64, description="stored upper-case; unique in the whole shop"),
        "price": integer(minimum=1, maximum=MAX_PRICE, description="whole Rupiah"),
        "weight_grams": integer(minimum=1, maximum=MAX_WEIGHT_GRAMS),
    },
    {
        "options": nullable({
            **str_map(string(min_len=1, max_len=60), max_items=10,
                      description="e.g. {\"size\": \"M\"}; names are stored lower-case"),
            "propertyNames": string(min_len=1, max_len=40),
        }),
        "dimensions": nullable(obj(_DIMENSIONS)),
        "active": nullable(boolean(description="default true")),
    },
)
_INITIAL_STOCK = nullable(str_map(integer(minimum=0, maximum=MAX_ON_HAND),
                                  description="{\"SKU\": units} for SKUs this request creates: the opening count"))
_THRESHOLD = nullable(integer(minimum=0, maximum=MAX_LOW_STOCK_THRESHOLD,
                              description="for the SKUs this request creates (default 5)"))
_IMAGES = nullable(array(string(pattern=IMAGE_URL_PATTERN), max_items=MAX_IMAGES))


def _product_body(*, new: bool) -> Schema:
    name = string(min_len=1, max_len=NAME_MAX)
    category = string(min_len=1, max_len=CATEGORY_MAX)
    optional: dict[str, Schema] = {
        "description": nullable(string(max_len=DESCRIPTION_MAX)),
        "status": nullable(string(enum=STATUSES, description="default draft" if new else None)),
        "images": _IMAGES,
        "initial_stock": _INITIAL_STOCK,
        "low_stock_threshold": _THRESHOLD,
    }
    if new:
        return obj({"name": name, "category": category,
                    "variants": array(VARIANT_BODY, min_items=1, max_items=MAX_VARIANTS)}, optional)
    return obj(None, {
        "name": nullable(name),
        "category": nullable(category),
        "variants": nullable(array(VARIANT_BODY, max_items=MAX_VARIANTS, description=(
            "matched by SKU: a known SKU is replaced, a new one added; none is ever removed (send active: false)"))),
        **optional,
    })


_NO_BODY = obj(description="nothing, or an empty object")
_PRODUCT = Response("the product, with each variant's stock now", ref("Product"))
_NOT_FOUND = "no such product"
_CONFLICT = ("a SKU is already used by another product (sku_taken; details.skus names them), or the product"
             " changed meanwhile (edit_conflict)")

OPERATIONS = {
    "list_products": Operation(
        summary="Browse the published products: search, filter by category and price, sort, a page at a time.",
        access=PUBLIC,
        query={
            "q": string(max_len=SEARCH_MAX, description="search words: each must begin a word of the name, description"
                                                        " or category (accents and case ignored; 'anyam' finds"
                                                        " 'anyaman'); ranked by relevance, name matches first"),
            "category": string(max_len=CATEGORY_FILTER_MAX, description="a category's slug or name"),
            "min_price": integer(minimum=0, maximum=MAX_PRICE, description="whole Rupiah: products whose dearest"
                                                                          " variant costs at least this"),
            "max_price": integer(minimum=0, maximum=MAX_PRICE, description="whole Rupiah: products whose cheapest"
                                                                          " variant costs at most this"),
            "sort": string(enum=SORTS, description="default relevance with q, newest without; relevance needs q"),
            "in_stock": string(enum=["true", "false"], description="true: only products with a variant in stock"),
            "limit": integer(minimum=1, maximum=MAX_PAGE, description="default 20"),
            "cursor": string(min_len=1, max_len=CURSOR_MAX, description="next_cursor of the previous page, with the"
                                                                        " same q, sort and filters"),
        },
        responses={200: Response("one page of products", obj({
            "items": array(ref("ProductListed")),
            "next_cursor": nullable(string(description="null on the last page")),
        }))},
        errors={503: "the search engine did not answer (search_unavailable); listing without q still works"},
    ),
    "get_product": Operation(
        summary="A published product with each variant's stock.",
        access=PUBLIC,
        path={"product_id": PRODUCT_ID},
        responses={200: _PRODUCT},
        errors={404: f"{_NOT_FOUND}, or it is not published"},
    ),
    "product_viewed": Operation(
        summary="The storefront tells the shop a shopper looked at a product (counted for the conversion report).",
        access=PUBLIC,
        path={"product_id": PRODUCT_ID},
        body=_NO_BODY,
        body_required=False,
        responses={202: Response("counted", obj({"status": string(enum=["counted"])}))},
        errors={404: f"{_NOT_FOUND}, or it is not published (product_not_found)"},
    ),
    "list_categories": Operation(
        summary="The categories of the published products, with how many each holds.",
        access=PUBLIC,
        responses={200: Response("every category, by name", obj({"items": array(ref("Category"))}))},
    ),
    "staff_list_products": Operation(
        summary="The products in one status, newest first, a page at a time, with their stock (staff).",
        access=STAFF,
        query={"status": string(enum=STATUSES, description="default active"), **page_query("products")},
        responses={200: Response("one page of products", obj({
            "items": array(ref("ProductListed")),
            "next_cursor": nullable(string(description="null on the last page")),
        }))},
    ),
    "create_product": Operation(
        summary="Create a product with its variants, a stock row per SKU and the opening stock, all or nothing.",
        access=STAFF,
        body=_product_body(new=True),
        responses={201: Response("the new product", ref("Product"))},
        errors={409: _CONFLICT},
    ),
    "staff_get_product": Operation(
        summary="A product in any status, with each variant's stock (staff).",
        access=STAFF,
        path={"product_id": PRODUCT_ID},
        responses={200: _PRODUCT},
        errors={404: _NOT_FOUND},
    ),
    "update_product": Operation(
        summary="Edit a product: the fields sent replace the old ones; variants are matched by SKU.",
        access=STAFF,
        path={"product_id": PRODUCT_ID},
        body=_product_body(new=False),
        responses={200: _PRODUCT},
        errors={404: _NOT_FOUND, 409: _CONFLICT},
        description="PUT and PATCH do the same. initial_stock and low_stock_threshold apply to new SKUs only.",
    ),
    "archive_product": Operation(
        summary="Take a product off the storefront; it stays for the orders that refer to it.",
        access=STAFF,
        path={"product_id": PRODUCT_ID},
        body=_NO_BODY,
        body_required=False,
        responses={200: _PRODUCT},
        errors={404: _NOT_FOUND, 409: "the product changed meanwhile (edit_conflict)"},
    ),
    "image_upload_url": Operation(
        summary="A short-lived presigned PUT to upload a product image straight to storage.",
        access=STAFF,
        path={"product_id": PRODUCT_ID},
        body=obj({"content_type": string(enum=sorted(IMAGE_TYPES))}),
        responses={200: Response("where and how to upload", obj({
            "upload_url": string(),
            "method": string(enum=["PUT"]),
            "headers": obj({"Content-Type": string(enum=sorted(IMAGE_TYPES))},
                           description="send these headers with the upload"),
            "key": string(pattern=IMAGE_KEY_PATTERN, description="give it to POST .../images once uploaded"),
            "image_url": string(description="where shoppers will see the image"),
            "expires_in": integer(minimum=1, description="seconds"),
        }))},
        errors={404: _NOT_FOUND},
    ),
    "attach_image": Operation(
        summary="Add an uploaded image to the product (refused until the upload is really there).",
        access=STAFF,
        path={"product_id": PRODUCT_ID},
        body=obj({"key": string(pattern=IMAGE_KEY_PATTERN, max_len=IMAGE_KEY_MAX,
                                description="from POST .../images/upload-url")}),
        responses={200: _PRODUCT},
        errors={404: _NOT_FOUND, 409: "the product changed meanwhile (edit_conflict)"},
        description="400 when the key belongs to another product or nothing was uploaded under it yet.",
    ),
}
