# Router image: a static binary with the shipped model embedded, the perception stub, and
# grpc_health_probe for docker compose's health check.
FROM golang:1.26-bookworm AS build
# Keep in step with GRPC_HEALTH_PROBE_VERSION in the Makefile.
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.62
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
RUN CGO_ENABLED=0 GOBIN=/probe go install github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION} && mkdir -p /out && mv /probe/grpc-health-probe /out/grpc_health_probe
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/router ./cmd/router && CGO_ENABLED=0 go build -trimpath -o /out/perception-stub ./cmd/perception-stub

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/ /usr/local/bin/
COPY examples/toolsets /toolsets
EXPOSE 50051 8080
ENTRYPOINT ["/usr/local/bin/router", "--tools-dir", "/toolsets", "--data-dir", "/data"]
