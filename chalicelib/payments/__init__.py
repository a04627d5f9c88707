"""Payments: the gateway port and its adapters, Midtrans notifications, the money ledger, charges, refunds,
voids and the reconciliation schedule. What a payment does to an order goes through the orders lifecycle."""
