"""Renderers: turn a RunResult into the files a run leaves behind.

Built-in renderers load through the ``auditor.renderers`` entry points like any plugin; each
returns text and never writes files (the pipeline writes them atomically).
"""
