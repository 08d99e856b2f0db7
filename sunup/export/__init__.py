"""Exporters: the plan, turned into another system's objects (pure; callers write the files)."""
