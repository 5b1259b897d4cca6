"""Repositories: the only modules that speak MongoDB queries."""
