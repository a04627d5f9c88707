"""Payments: the gateway port and its adapters, Midtrans notifications, the money ledger."""
