# syntax=docker/dockerfile:1
# Reproducible: the base image is pinned by digest (the multi-platform index of
# python:3.11.10-slim-bookworm), and every Python package, the build tools included, comes
# from requirements.lock with its hashes (pip refuses anything else). To move to a newer
# base: `docker buildx imagetools inspect python:3.11-slim-bookworm`, put the new tag and
# digest here, rebuild, run the tests. To change dependencies: edit pyproject.toml, then
# `make lock` (pip-compile --generate-hashes).
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

# Build stage: the locked dependencies, then the bot itself (no dependency resolution).
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY server ./server
COPY handlers ./handlers
COPY registry ./registry
COPY storage ./storage
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation . \
 && /opt/venv/bin/pip check

# Run stage: the virtual environment only, run as an unprivileged user (uid 10001: a
# volume mounted at /data must be writable by it, e.g. chown -R 10001:10001 on the host).
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 imagerepo \
 && useradd --system --uid 10001 --gid imagerepo --home-dir /data --shell /usr/sbin/nologin imagerepo \
 && mkdir -p /data && chown imagerepo:imagerepo /data
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL="sqlite:////data/imagerepo.db" \
    PORT=3000
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request as u; m = os.environ.get('METRICS_PORT'); h = os.environ.get('METRICS_HOST' if m else 'HOST') or '0.0.0.0'; h = '127.0.0.1' if h in ('0.0.0.0', '::') else h; h = '[%s]' % h if ':' in h else h; sys.exit(0 if u.urlopen('http://%s:%s/healthz' % (h, m or os.environ.get('PORT', '3000')), timeout=4).status == 200 else 1)"]
# `serve` checks the Slack tokens, runs the migrations, then serves.
ENTRYPOINT ["imagerepo-bot"]
CMD ["serve"]
