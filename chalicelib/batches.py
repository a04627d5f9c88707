"""SQS batches as every consumer handles them: one record at a time, failures reported per record.

Lambda retries only the records listed in batchItemFailures (the infrastructure turns on
ReportBatchItemFailures); a record that keeps failing moves to the queue's dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from chalice.app import SQSEvent


def each_record(event: SQSEvent, handle: Callable[[SQSRecord], None]) -> dict[str, Any]:
    # powertools' batch utilities (and the asyncio they import) load with the first batch, not with every cold start
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    # Chalice types the context as a dict; at run time it is Lambda's context object, which powertools expects.
    context = cast("LambdaContext | None", event.context)
    return dict(process_partial_response(event=event.to_dict(), record_handler=handle,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context))
