"""Checkout: turns a cart into an order, reserving every unit of stock in one transaction."""
