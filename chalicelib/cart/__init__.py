"""Cart: what a shopper intends to buy, priced live from the catalog, stock and vouchers."""
