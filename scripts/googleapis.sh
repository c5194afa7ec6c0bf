#!/usr/bin/env bash
# Fill third_party/googleapis (gitignored) with the google/api and google/rpc
# protos that proto/ imports, taken from a pinned Go module through the Go
# module proxy. go verifies the zip against the checksum database; the h1:
# hash is pinned here as well. Nothing is fetched from the Buf Schema Registry.
set -euo pipefail
MOD=github.com/grpc-ecosystem/grpc-gateway/v2
VER=v2.2.0 # last release whose module zip still carries third_party/googleapis
SUM=h1:HlJcTiqGHvaWDG7/s85d68Kw7G7FqMz+9LlcyVauOAw=
SUB=third_party/googleapis
FILES=(
  google/api/annotations.proto
  google/api/http.proto
  google/api/httpbody.proto
  google/api/field_behavior.proto
  google/rpc/status.proto
  google/rpc/code.proto
  google/rpc/error_details.proto
)
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/third_party/googleapis
if [ -f "$dest/.pinned" ] && [ "$(cat "$dest/.pinned")" = "$MOD@$VER $SUM" ]; then
  exit 0
fi
# Run outside the main module so go.mod and go.sum are never touched.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
json=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$MOD@$VER")
dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
sum=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { printf '%s\n' "$json" >&2; exit 1; }
[ "$sum" = "$SUM" ] || { echo "hash mismatch for $MOD@$VER: $sum" >&2; exit 1; }
rm -rf "$dest"
for f in "${FILES[@]}"; do
  install -D -m 0644 "$dir/$SUB/$f" "$dest/$f"
done
echo "$MOD@$VER $SUM" > "$dest/.pinned"
echo "googleapis protos: $MOD@$VER -> ${dest#"$root"/}"
