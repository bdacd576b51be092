"""Triage: suppressions, the SQLite history of runs, and diffs against a baseline."""
