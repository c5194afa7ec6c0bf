# syntax=docker/dockerfile:1
#
# arcgate's container image: a static binary on a distroless base, run as
# the non-root user 65532. Build it with
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t arcgate .
#
# The generated code (gen/) is committed, so the build needs nothing but Go
# and the module proxy.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/arcgate/arcgate/internal/version.Version=${VERSION}" \
      -o /out/arcgate ./cmd/arcgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/arcgate /arcgate
USER nonroot:nonroot
# Listen on every interface inside the container: REST (and /healthz,
# /metrics, /openapi.json) on 8080, gRPC on 9090.
ENV ARCGATE_HTTP_ADDR=:8080 \
    ARCGATE_GRPC_ADDR=:9090
EXPOSE 8080 9090
ENTRYPOINT ["/arcgate"]
