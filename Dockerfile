# syntax=docker/dockerfile:1
# Build stage: a wheel of the bot and its dependencies, built where compilers may live.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY server ./server
COPY handlers ./handlers
COPY registry ./registry
COPY storage ./storage
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir .

# Run stage: the virtual environment only, run as an unprivileged user.
FROM python:3.11-slim
RUN groupadd --system --gid 10001 imagerepo \
 && useradd --system --uid 10001 --gid imagerepo --home-dir /data --shell /usr/sbin/nologin imagerepo \
 && mkdir -p /data && chown imagerepo:imagerepo /data
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL="sqlite:////data/imagerepo.db" \
    PORT=3000
USER imagerepo
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('METRICS_PORT') or os.environ.get('PORT', '3000')), timeout=4).status == 200 else 1)"]
# `serve` runs the migrations first, then serves.
ENTRYPOINT ["imagerepo-bot"]
CMD ["serve"]
