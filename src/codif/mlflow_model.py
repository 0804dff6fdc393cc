"""Models-from-code entry of the codif pyfunc: MLflow runs this file to build the Python model at load time.

Logged with ``mlflow.pyfunc.log_model(python_model=<this file>)``, which avoids pickling the wrapper with
cloudpickle; the trained model itself is the ``model`` artifact (see :mod:`codif.pyfunc`).
"""

from __future__ import annotations

import mlflow.models

from codif.pyfunc import CodifPyfunc

mlflow.models.set_model(CodifPyfunc())
