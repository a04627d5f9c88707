"""TokoFlow API: registers each business area's blueprint and the cross-cutting middleware. No logic here."""

from __future__ import annotations

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware

from chalicelib.apidocs.routes import docs_routes
from chalicelib.cart.routes import cart_routes
from chalicelib.catalog.routes import catalog_routes
from chalicelib.checkout.routes import checkout_routes
from chalicelib.fulfilment.routes import fulfilment_routes
from chalicelib.inventory.routes import inventory_routes
from chalicelib.loyalty.routes import loyalty_routes
from chalicelib.notifications.routes import notification_routes
from chalicelib.observability import correlation_middleware, logger, metrics
from chalicelib.orders.routes import order_routes
from chalicelib.payments.routes import payment_routes
from chalicelib.reports.routes import report_routes
from chalicelib.returns.routes import return_routes
from chalicelib.reviews.routes import review_routes
from chalicelib.shipping.routes import shipping_routes
from chalicelib.tickets.routes import ticket_routes
from chalicelib.vouchers.routes import voucher_routes
from chalicelib.web import auth_blueprint

app = Chalice(app_name="tokoflow")
app.api.cors = False

app.register_middleware(
    ConvertToMiddleware(
        logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST)
    ),
    "http",
)
app.register_middleware(correlation_middleware, "http")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)), "sqs")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)), "scheduled")
app.register_middleware(ConvertToMiddleware(metrics.log_metrics), "all")

app.register_blueprint(auth_blueprint)
app.register_blueprint(catalog_routes)
app.register_blueprint(inventory_routes)
app.register_blueprint(cart_routes)
app.register_blueprint(shipping_routes)
app.register_blueprint(checkout_routes)
app.register_blueprint(order_routes)
app.register_blueprint(voucher_routes)
app.register_blueprint(payment_routes)
app.register_blueprint(fulfilment_routes)
app.register_blueprint(return_routes)
app.register_blueprint(review_routes)
app.register_blueprint(report_routes)
app.register_blueprint(notification_routes)
app.register_blueprint(ticket_routes)
app.register_blueprint(loyalty_routes)
app.register_blueprint(docs_routes)
