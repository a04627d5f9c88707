"""Customer notifications (email and SMS) about an order's progress, in Bahasa Indonesia.

Business code calls `notifications.service.request(event, order.to_dict(), extra)`; the notifications queue
consumer calls `service.deliver(body)`. Submodules are imported by their users, not here, so importing the
pure templates does not pull in pynamodb or boto3.
"""
