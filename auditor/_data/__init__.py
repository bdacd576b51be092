"""Package data mapped from rules/ and reports/templates/ (see setup.py)."""
