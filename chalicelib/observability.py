"""The shared Logger and Metrics (one service name and namespace for the whole application) and the
correlation-id middleware."""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = "tokoflow"
NAMESPACE = "TokoFlow"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def correlation_middleware(event: Any, get_response: Any) -> Any:
    """Honour a caller's X-Correlation-Id (else the API Gateway request id) and echo it back."""
    header = (event.headers or {}).get("x-correlation-id")
    if header and len(header) <= 100:
        logger.set_correlation_id(header)
    response = get_response(event)
    correlation_id = logger.get_correlation_id()
    if correlation_id:
        response.headers["X-Correlation-Id"] = correlation_id
    return response


# Routes that publish no metric would otherwise print this warning on every request.
warnings.filterwarnings("ignore", message="No application metrics to publish")
