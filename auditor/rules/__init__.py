"""Rules: the rule model, the strict loader of rule files and the pure engine."""
