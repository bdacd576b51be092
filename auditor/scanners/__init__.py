"""Scanners: the only code that calls cloud APIs."""
