"""One module per endpoint table of the spec; each exposes ROUTES."""
