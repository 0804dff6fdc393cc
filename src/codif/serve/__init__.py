"""codif's model API: FastAPI on the model registered in MLflow, with business logs shipped to S3.

- :mod:`codif.serve.app` the endpoints (``create_app``);
- :mod:`codif.serve.model_store` loading from MLflow, alias polling and atomic swaps (``ModelHolder``);
- :mod:`codif.serve.business_log` one JSON line per prediction, rotated files uploaded to S3 (``BusinessLog``);
- :mod:`codif.serve.schemas` the request and answer models, Insee's validation rules and the documented limits;
- :mod:`codif.serve.settings` every setting (``ServeSettings``, ``CODIF_SERVE_*``);
- :mod:`codif.serve.cli` the ``codif serve`` command.
"""
