# Canopy's three programs in one image: canopy-controller, canopy-node and
# canopyctl (k8s/ picks one with `command:`).
#
#   docker build -t ghcr.io/canopy-multicast/canopy:0.1.0 .
#
# Debian 12 (bookworm) packages only. The build stage installs the build
# packages of scripts/setup (keep the two lists in step; the test-only tools
# graphviz, iproute2, procps, iperf3, nftables, clang, kubectl and nodejs are
# left out). CMake's configure step needs GoogleTest and Google Benchmark
# even though only the three programs are built.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libabsl-dev libboost-dev libboost-graph-dev libxxhash-dev libsqlite3-dev \
      libgtest-dev libgmock-dev libbenchmark-dev libspdlog-dev libcli11-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && ninja -C /build canopy-controller canopy-node canopyctl \
 && strip /build/bin/canopy-controller /build/bin/canopy-node /build/bin/canopyctl

FROM debian:bookworm-slim
# The shared libraries the programs link (ldd): gRPC++ (with its c-ares,
# RE2, OpenSSL), protobuf, Abseil, spdlog (with fmt), SQLite, xxHash.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libspdlog1.10 libsqlite3-0 libxxhash0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/canopy-controller /build/bin/canopy-node /build/bin/canopyctl \
     /usr/local/bin/
# Non-root, as the manifests require (runAsNonRoot); no file in the image is
# written at run time (readOnlyRootFilesystem): the controller's store lives
# on a volume.
USER 65532:65532
# gRPC (controller, node clients, node data) and /metrics (controller, node).
EXPOSE 7600 7601 7602 7690 7691
CMD ["canopy-controller", "--help"]
