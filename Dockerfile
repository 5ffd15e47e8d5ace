# syntax=docker/dockerfile:1
# One image recipe for every Architect service; the SERVICE build arg picks the entry point:
#   docker build --build-arg SERVICE=orchestrator -t architect-orchestrator .
# Configuration comes only from the environment at run time (see shared/settings.py); nothing secret is baked in.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject alone (with empty package folders), so a code change does not reinstall them.
# README.md* is a glob so the build still works before the README exists; setuptools only warns without it.
COPY pyproject.toml README.md* ./
RUN mkdir shared services && pip install .

COPY shared ./shared
COPY services ./services
RUN pip install --no-deps --force-reinstall .


FROM python:3.11-slim
# A fixed numeric uid lets Kubernetes verify runAsNonRoot; the working directory is where faust keeps its data dir.
RUN groupadd --system --gid 10001 architect \
    && useradd --system --uid 10001 --gid architect --home-dir /var/lib/architect --shell /usr/sbin/nologin architect \
    && install --directory --owner architect --group architect /var/lib/architect
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /var/lib/architect
USER 10001:10001

# Declared last so every service shares the layers above and only differs in the steps below.
ARG SERVICE
ENV SERVICE_MODULE=services.${SERVICE}
# Fail the build, not the container, when SERVICE is missing or names no runnable package.
RUN test -n "$SERVICE" || { echo "set --build-arg SERVICE=<a package under services/>" >&2; exit 1; } \
    && python -c "import importlib.util, os; assert importlib.util.find_spec(os.environ['SERVICE_MODULE'] + '.__main__')"

# Prometheus metrics (ARCHITECT_METRICS_PORT); the gateway also serves HTTP on 8080.
EXPOSE 9100
# exec replaces the shell, so Python itself receives SIGTERM and stops gracefully.
CMD ["sh", "-c", "exec python -m \"$SERVICE_MODULE\""]
