# syntax=docker/dockerfile:1
# aicode-exporter container: the locked dependencies and a wheel of this checkout in a
# venv; the runtime stage copies only the venv.
#
#   make image        (passes VERSION, REVISION, BRANCH and BUILD_DATE from git), or
#   docker build -t aicode-exporter .
#   docker run -p 19877:19877 -v aicode-state:/var/lib/aicode-exporter \
#     -v "$PWD/config.yaml:/etc/aicode-exporter/config.yaml:ro" aicode-exporter
#   docker run -p 19877:19877 aicode-exporter demo --web.listen-address :19877
#
# Base images are pinned by digest (the tag is what it was resolved from). To refresh:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm --format '{{json .Manifest.Digest}}'
# and replace both digests below (make base-digest prints the line).

# python:3.11.14-slim-bookworm
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first, from the hash-pinned lock file (a layer that changes only with it).
COPY requirements.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY aicode_exporter ./aicode_exporter
COPY aicode_sim ./aicode_sim
# The build context has no .git: the version and revision come in as build arguments
# (setuptools-scm writes them into the wheel's _version.py).
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG BRANCH=unknown
ARG SOURCE_DATE_EPOCH
RUN SETUPTOOLS_SCM_PRETEND_VERSION="${VERSION}" \
    SETUPTOOLS_SCM_PRETEND_METADATA="{node=\"g${REVISION}\", branch=\"${BRANCH}\"}" \
    python -m pip wheel --no-deps --wheel-dir /dist . \
 && /opt/venv/bin/pip install --no-deps /dist/*.whl

# python:3.11.14-slim-bookworm
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG BUILD_DATE=unknown
LABEL org.opencontainers.image.title="aicode-exporter" \
      org.opencontainers.image.description="Prometheus exporter for AI-coding vendors' metrics" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}"
RUN groupadd --system --gid 10001 aicode \
 && useradd --system --uid 10001 --gid aicode --no-create-home \
      --home-dir /var/lib/aicode-exporter --shell /usr/sbin/nologin aicode \
 && mkdir -p /var/lib/aicode-exporter /etc/aicode-exporter \
 && chown aicode:aicode /var/lib/aicode-exporter
COPY --from=builder /opt/venv /opt/venv
# AICODE_KEY_DIR: relative key files (api_key_file: qoder) are read from Docker/Kubernetes
# secrets. AICODE_STATE_DIR: a relative state_path (config.example.yaml's
# ./aicode-state.db) lives on the volume, not beside the read-only config.
ENV PATH=/opt/venv/bin:$PATH \
    BUILD_DATE=$BUILD_DATE \
    AICODE_KEY_DIR=/run/secrets \
    AICODE_STATE_DIR=/var/lib/aicode-exporter \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The state file (de-dup ids, counter totals, watermarks) must outlive the container.
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
