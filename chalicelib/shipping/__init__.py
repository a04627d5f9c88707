"""Shipping quotes: pure domain logic (weights, zones, rate cards) kept free of AWS so it is cheap to test."""
