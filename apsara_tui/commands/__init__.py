"""One Typer group per module."""
