# syntax=docker/dockerfile:1
# One image for every HSM service: Rasa with the WhatsApp channel (`rasa run`), the action server
# (`rasa run actions`), the admin API (`hsm api`), the queue worker (`hsm worker`), the scheduler (`hsm scheduler`)
# and the migrations. Python 3.10 with exactly the versions in requirements/constraints.txt, the environment CI
# tests (why not rasa/rasa + rasa/rasa-sdk: see docs/deploy.md, "The image").
#
#   docker build -t hsm-assistant:latest .
#
# The trained model is not baked in: docker-compose.yml mounts ./models (ship a model = copy models/hsm.tar.gz,
# restart rasa). Build context: see .dockerignore (no .venv, var, models, results).
ARG PYTHON_IMAGE=python:3.10-slim-bookworm

# ---------------------------------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv && pip install "pip==24.0"
COPY requirements/ /src/requirements/
RUN pip install -c /src/requirements/constraints.txt -r /src/requirements/base.txt

# ---------------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 1001 --shell /usr/sbin/nologin hsm \
 && mkdir -p /app/models /app/var \
 && chown hsm:hsm /app /app/models /app/var
# SQLAlchemy's 2.0 notice (Rasa pins 1.4) is printed when Rasa is imported, before logging is set up: it would be the
# one line of HSM_LOG_FORMAT=json's output that is not JSON (later warnings are logged as JSON lines).
ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 RASA_TELEMETRY_ENABLED=false HOME=/home/hsm \
    SQLALCHEMY_SILENCE_UBER_WARNING=1
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The checkout's layout is kept (hsm.infra.config.PROJECT_ROOT is /app): config.yml, domain.yml, endpoints.yml,
# credentials.yml, alembic.ini, migrations/, templates/ and the packages.
COPY --chown=hsm:hsm . /app
RUN pip install --no-deps -e . && pip check
USER hsm
EXPOSE 5005 5055 8095
# docker-compose.yml gives each service its command; alone, the image runs Rasa.
CMD ["rasa", "run", "--model", "models/hsm.tar.gz", "--port", "5005", "--credentials", "credentials.yml", \
     "--endpoints", "endpoints.yml", "--logging-config-file", "logging.yml"]
