"""Inventory: stock levels per SKU (on hand, reserved, available), the stock ledger, low-stock alerts."""
