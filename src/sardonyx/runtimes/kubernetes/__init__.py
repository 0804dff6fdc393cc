"""The kubernetes runtime: services as Helm releases in per-project namespaces (``helm`` CLI + the official
``kubernetes`` client)."""
