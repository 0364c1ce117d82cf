# Licensed under the Apache License, Version 2.0.
"""Apache Airflow provider for bulk email verification vendors."""

from __future__ import annotations

__version__ = "0.1.0"
