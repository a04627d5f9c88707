"""HTTP routes of the catalog: public browsing and staff product management under /admin/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate

from chalicelib.catalog.domain import MAX_PRICE, SORTS, STATUSES, Browse
from chalicelib.lazy import lazy_module
from chalicelib.validation import ID_PATTERN, MAX_PAGE, Fields, page, query_int
from chalicelib.web import api, expect_no_body, json_response, jwt_authorizer, query_params, read_json, staff

if TYPE_CHECKING:
    from chalicelib.catalog import service
else:
    service = lazy_module("chalicelib.catalog.service")

catalog_routes = Blueprint(__name__)
SEARCH_MAX, CATEGORY_FILTER_MAX, CURSOR_MAX = 100, 60, 500
BOOLEAN_WORDS = ("true", "false")


def _request() -> Any:
    return catalog_routes.current_request


def _product_id(product_id: str) -> str:
    return Fields({"product_id": product_id}).text("product_id", pattern=ID_PATTERN)


@catalog_routes.route("/products", methods=["GET"])
@api
def list_products() -> Any:
    params = query_params(_request())
    fields = Fields(params)
    q = fields.text("q", required=False, default="", min_len=0, max_len=SEARCH_MAX)
    browse = Browse(
        q=q,
        category=fields.text("category", required=False, default="", min_len=0, max_len=CATEGORY_FILTER_MAX),
        min_price=query_int(params, "min_price", default=None, min_value=0, max_value=MAX_PRICE),
        max_price=query_int(params, "max_price", default=None, min_value=0, max_value=MAX_PRICE),
        sort=fields.text("sort", required=False, default="relevance" if q.strip() else "newest", choices=SORTS),
        limit=query_int(params, "limit", default=20, min_value=1, max_value=MAX_PAGE),
        cursor=fields.text("cursor", required=False, max_len=CURSOR_MAX),
        in_stock=fields.text("in_stock", required=False, default="false", choices=BOOLEAN_WORDS) == "true",
    )
    return service.browse(browse)


@catalog_routes.route("/products/{product_id}", methods=["GET"])
@api
def get_product(product_id: str) -> Any:
    return service.get_product(_product_id(product_id))


@catalog_routes.route("/products/{product_id}/views", methods=["POST"])
@api
def product_viewed(product_id: str) -> Any:
    """The storefront says a shopper looked at the product: counted for the conversion report (202)."""
    expect_no_body(_request())
    service.count_view(_product_id(product_id))
    return json_response({"status": "counted"}, status=202)


@catalog_routes.route("/categories", methods=["GET"])
@api
def list_categories() -> Any:
    return service.categories()


@catalog_routes.route("/admin/products", methods=["GET"], authorizer=jwt_authorizer)
@api
def staff_list_products() -> Any:
    staff(_request())
    params = query_params(_request())
    status = Fields(params).text("status", required=False, default="active", choices=STATUSES)
    limit, cursor = page(params)
    return service.list_for_staff(status, limit=limit, cursor=cursor)


@catalog_routes.route("/admin/products", methods=["POST"], authorizer=jwt_authorizer)
@api
def create_product() -> Any:
    principal = staff(_request())
    return json_response(service.create_product(read_json(_request()), actor=principal.sub), status=201)


@catalog_routes.route("/admin/products/{product_id}", methods=["GET"], authorizer=jwt_authorizer)
@api
def staff_get_product(product_id: str) -> Any:
    staff(_request())
    return service.get_product(_product_id(product_id), include_unpublished=True)


@catalog_routes.route("/admin/products/{product_id}", methods=["PUT", "PATCH"], authorizer=jwt_authorizer)
@api
def update_product(product_id: str) -> Any:
    principal = staff(_request())
    return service.update_product(_product_id(product_id), read_json(_request()), actor=principal.sub)


@catalog_routes.route("/admin/products/{product_id}/archive", methods=["POST"], authorizer=jwt_authorizer)
@api
def archive_product(product_id: str) -> Any:
    principal = staff(_request())
    expect_no_body(_request())
    return service.archive_product(_product_id(product_id), actor=principal.sub)


@catalog_routes.route("/admin/products/{product_id}/images/upload-url", methods=["POST"],
                      authorizer=jwt_authorizer)
@api
def image_upload_url(product_id: str) -> Any:
    staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"content_type"})
    return service.image_upload_url(_product_id(product_id), fields)


@catalog_routes.route("/admin/products/{product_id}/images", methods=["POST"], authorizer=jwt_authorizer)
@api
def attach_image(product_id: str) -> Any:
    principal = staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"key"})
    return service.attach_image(_product_id(product_id), fields, actor=principal.sub)


@catalog_routes.schedule(Rate(5, unit=Rate.MINUTES), name="refresh_search_index")
def refresh_search_index(event: Any) -> None:
    """Folds the catalog's changes into the stored search index, so a new container's catch-up stays short."""
    service.refresh_search_index()
