# syntax=docker/dockerfile:1.7
# The hub in a container, for the local full stack (compose.yaml) with emulated BLE nodes.
# A real Raspberry Pi hub is installed with deploy/raspberrypi/install.sh instead (BlueZ, systemd).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
# README.* is optional: the wildcard may match nothing while pyproject.toml is always there.
COPY pyproject.toml README.* ./
COPY shared/ shared/
COPY hub/ hub/
COPY cloud/ cloud/
COPY plantvita/ plantvita/
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --wheel-dir /wheels ".[hub]"

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PLANTVITA_HUB_DATA_DIR=/var/lib/plantvita \
    PLANTVITA_HUB_HOST=0.0.0.0 \
    PLANTVITA_HUB_PORT=8080
RUN groupadd --system --gid 10001 plantvita \
    && useradd --system --uid 10001 --gid plantvita --home-dir /var/lib/plantvita --create-home \
        --shell /usr/sbin/nologin plantvita
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels "plant-vita[hub]" \
    && /opt/venv/bin/plantvita --help > /dev/null
USER 10001:10001
WORKDIR /var/lib/plantvita
VOLUME ["/var/lib/plantvita"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["plantvita", "hub", "serve"]
