"""The HTTP front end (Starlette): a leaf that only `apsara serve` and its tests import."""
