"""Loyalty points: earned on completed orders, spent at checkout, taken back with refunds, expiring."""
