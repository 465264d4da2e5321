# Router image: a static binary with the shipped model embedded.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/router ./cmd/router && CGO_ENABLED=0 go build -trimpath -o /out/perception-stub ./cmd/perception-stub

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/ /usr/local/bin/
COPY examples/toolsets /toolsets
EXPOSE 50051 8080
ENTRYPOINT ["/usr/local/bin/router", "--tools-dir", "/toolsets", "--data-dir", "/data"]
