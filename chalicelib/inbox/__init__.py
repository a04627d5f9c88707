"""The webhook inbox shared by every provider webhook (payments, couriers): record once, then queue."""
