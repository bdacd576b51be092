"""Effective access: who can read, write, delete or administer each sensitive asset, and why."""
