"""Orders: the record of a sale, its frozen prices, status and timeline. Orders are never deleted."""
