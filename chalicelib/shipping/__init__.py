"""Shipping: quotes (weights, zones, rate cards), courier bookings through the courier adapters, and what
happens when a courier reports on a parcel (webhooks.py: the webhook, its queue consumer, the order's move)."""
