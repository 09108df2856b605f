# The package on the official Airflow image of the locked version, its dependencies installed from
# uv.lock (the image's own Airflow stays; the lock pins the same version). Build: docker compose build.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER airflow
WORKDIR /opt/lead-pipelines
COPY --chown=airflow:root pyproject.toml uv.lock README.md ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv export --frozen --no-dev --no-hashes --no-emit-project --format requirements-txt -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY --chown=airflow:root plugins ./plugins
COPY --chown=airflow:root include ./include
COPY --chown=airflow:root sandbox ./sandbox
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import lead_pipelines.registry"
COPY --chown=airflow:root dags /opt/airflow/dags
WORKDIR /opt/airflow
