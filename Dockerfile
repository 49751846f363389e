# syntax=docker/dockerfile:1
# aicode-exporter container: build a wheel, install it into a venv, copy only the venv.
#
#   docker build -t aicode-exporter .
#   docker run -p 19877:19877 -v aicode-state:/var/lib/aicode-exporter \
#     -v "$PWD/config.yaml:/etc/aicode-exporter/config.yaml:ro" aicode-exporter
#   docker run -p 19877:19877 aicode-exporter demo --web.listen-address :19877

FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY aicode_exporter ./aicode_exporter
COPY aicode_sim ./aicode_sim
# Dependencies come from the version ranges in pyproject.toml; the wheel is this checkout.
RUN python -m venv /opt/venv \
 && python -m pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/pip install /dist/*.whl

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="aicode-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Qoder and Cursor AI-code metrics" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 aicode \
 && useradd --system --uid 10001 --gid aicode --no-create-home \
      --home-dir /var/lib/aicode-exporter --shell /usr/sbin/nologin aicode \
 && mkdir -p /var/lib/aicode-exporter /etc/aicode-exporter \
 && chown aicode:aicode /var/lib/aicode-exporter
COPY --from=builder /opt/venv /opt/venv
# aicode_exporter_build_info{revision}: docker build --build-arg SOURCE_REVISION=$(git rev-parse --short=12 HEAD)
ARG SOURCE_REVISION=unknown
# AICODE_KEY_DIR: relative key files (api_key_file: qoder) are read from Docker/Kubernetes secrets.
ENV PATH=/opt/venv/bin:$PATH \
    SOURCE_REVISION=$SOURCE_REVISION \
    AICODE_KEY_DIR=/run/secrets \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The state file (de-dup ids, counter totals, watermarks) must outlive the container:
# set state_path: /var/lib/aicode-exporter/state.db in config.yaml.
VOLUME ["/var/lib/aicode-exporter"]
WORKDIR /var/lib/aicode-exporter
USER 10001:10001
EXPOSE 19877
# The exporter probes its own /-/healthy. With --web.config.file (TLS, basic auth) or
# another port, override it with the same flags (docs/deployment.md, "Health checks"):
#   --health-cmd 'aicode-exporter healthcheck --web.config.file /etc/aicode-exporter/web.yml
#                 --auth.password-file /run/secrets/probe-password'
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["aicode-exporter", "healthcheck"]
ENTRYPOINT ["aicode-exporter"]
CMD ["--config.file", "/etc/aicode-exporter/config.yaml"]
