"""Orders: the record of a sale (frozen prices, status, timeline), its lifecycle table (lifecycle.py) and its
workflow execution (workflow.py). Orders are never deleted."""
