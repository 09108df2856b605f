"""The "Lead pipelines" status page inside Airflow's UI: freshness, recent windows, failures, schema drift, push outbox.

``plugin`` registers it with Airflow (light to import), ``app`` is its FastAPI app, ``panels`` its SQL
panels (``include/sql/status/``), ``render`` its HTML.
"""
