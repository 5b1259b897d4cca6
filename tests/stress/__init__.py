"""Long checks that are not part of `make test`: `python -m tests.stress.<name>`."""
