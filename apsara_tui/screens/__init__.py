"""One screen per management action (or a small family of them)."""
