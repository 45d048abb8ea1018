# faas-base-go: the go image's base, faas-base plus Debian's go toolchain (golang-go, no
# recommends, as debootstrap's --include installed it before). A layer of its own because it is
# most of the base's bytes: only the go image waits for it (scripts/build-images.ts). The
# dpkg path excludes and apt options mmdebstrap wrote into faas-base apply here too.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends golang-go \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && go version
