"""Services: the rules, one module per domain."""
