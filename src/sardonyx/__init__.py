"""Sardonyx: a data science platform in the spirit of Insee's Onyxia.

A catalog of services (JupyterLab, MLflow, jobs, model APIs, ...) launched for a user in a project, wired to
S3 storage, secrets and Git. See ``docs`` in the repository for the architecture and vocabulary.
"""

__version__ = "0.1.0"
