# fmprep runtime image: the release binary built on the host, on debian:bookworm-slim.
#
#   cargo build --release
#   docker build -t fmprep .
#
# The binary must be built on a glibc 2.36-or-older host (Debian 12, Ubuntu 22.04, Amazon
# Linux 2023, ...): it links against the host's glibc and runs on any newer one, and this image
# has bookworm's 2.36. Nothing is compiled here, so a warm `docker build` takes seconds.
#
# BINARY is the binary's path inside the build context (a clone's default target dir).
# scripts/test.sh passes a small context holding a stripped copy instead
# (`--build-arg BINARY=fmprep`), so it never sends the target dir to the daemon.
ARG BINARY=target/release/fmprep

# Stage 1: strip the line tables that `cargo build --release` keeps for profiling, and the
# symbols (112 MB -> 23 MB). binutils stays in this stage only.
FROM debian:bookworm-slim AS strip
ARG BINARY
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils
COPY ${BINARY} /fmprep
RUN strip /fmprep && /fmprep --version

# Stage 2: the runtime image.
FROM debian:bookworm-slim
# Version: checked against Cargo.toml by tests/it/container.rs; SOURCE and REVISION are set by
# scripts/test.sh (`git remote get-url origin`, `git rev-parse HEAD`).
ARG VERSION=0.1.0
ARG SOURCE=
ARG REVISION=
LABEL org.opencontainers.image.title="fmprep" \
      org.opencontainers.image.description="Amazon reviews TSV to SageMaker Factorization Machines RecordIO-protobuf" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="debian:bookworm-slim"
# CA certificates: the S3 client trusts the system store (rustls-native-certs).
# apt-get clean: the package caches (/var/cache/apt/*.bin, 80 MB) are not needed at run time.
# --no-log-init: no lastlog/faillog entry, files sized by the uid.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 10001 fmprep \
 && useradd --system --no-log-init --uid 10001 --gid fmprep --home-dir /home/fmprep \
      --create-home --shell /usr/sbin/nologin fmprep \
 && mkdir -p /opt/ml/processing/input /opt/ml/processing/output \
 && chown fmprep:fmprep /opt/ml/processing/output
COPY --from=strip /fmprep /usr/local/bin/fmprep
# Numeric, so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/fmprep
ENTRYPOINT ["fmprep"]
CMD ["--help"]
