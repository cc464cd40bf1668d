# Övervakt container image: a static binary on distroless, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t overvakt .
#   docker run -p 8080:8080 -v $PWD/my.toml:/etc/overvakt/overvakt.toml:ro \
#              -v overvakt-data:/var/lib/overvakt overvakt
#
# Listening: the bundled sample listens on [::1]:8080, which nothing outside
# the container can reach. Mount your own config with
#   [server]
#   inet = "0.0.0.0:8080"
# Secrets can stay out of the file: the config expands ${VAR}, so pass them
# with `-e MANAGER_TOKEN=...`.
#
# ICMP probes as a non-root user:
#   - datagram sockets ([plugins.icmp] socket = "dgram" or "auto"): allowed when
#     the container's net.ipv4.ping_group_range covers its group. Docker 20.10+
#     sets "0 2147483647" by default for containers with their own network
#     namespace; elsewhere (Podman, Kubernetes, --network host) pass
#     `--sysctl net.ipv4.ping_group_range="0 2147483647"` or its equivalent.
#   - raw sockets (socket = "raw") need CAP_NET_RAW. Docker does not hand added
#     capabilities to a non-root user, so --cap-add=NET_RAW alone does nothing
#     here; run as root with that capability only:
#     `--user 0:0 --cap-drop=ALL --cap-add=NET_RAW`.

# The go.mod toolchain line must not be newer than the image's Go: the
# official images set GOTOOLCHAIN=local and will not download another one.
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, so source edits do not re-download them.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/overvakt ./cmd/overvakt \
    && mkdir -p /out/data

# static-debian12 has CA certificates, tzdata and /etc/passwd (nonroot =
# 65532) but no shell, so nothing can be RUN in this stage.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/overvakt /usr/local/bin/overvakt
COPY overvakt.toml /etc/overvakt/overvakt.toml
# A writable working directory for the state that later versions keep on disk.
COPY --from=build --chown=65532:65532 /out/data /var/lib/overvakt
WORKDIR /var/lib/overvakt
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/overvakt", "-c", "/etc/overvakt/overvakt.toml"]
