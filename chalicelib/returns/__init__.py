"""Returns: customers sending delivered goods back, couriers' returns-to-sender, inspection and the refund,
run by the returns state machine."""
