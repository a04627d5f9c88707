"""Customer service tickets: questions about an order (or general ones), staff replies, resolution times and the
customer's rating."""
