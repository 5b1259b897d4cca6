"""Apsara's front ends for the terminal: the full-screen app and the Typer commands."""
