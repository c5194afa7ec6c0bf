#!/usr/bin/env bash
# Fill third_party/googleapis (gitignored) with the google/api, google/rpc and
# google/longrunning protos that proto/ imports or that clients in other
# languages need to decode arcgate's errors (google.rpc.ErrorInfo, RetryInfo,
# ...), taken from a pinned npm package that ships the current googleapis
# protos unchanged. No Go module that the module proxy serves ships current
# ones (grpc-gateway's last copy, v2.2.0, is from 2017 and has no ErrorInfo).
# npm checks the tarball against the registry's integrity; the sha512 is
# pinned here as well and checked again. Nothing is fetched from the Buf
# Schema Registry.
set -euo pipefail
PKG=google-proto-files
VER=6.0.1
SUM=sha512-fbvUWVNh3rKGlVFWwlUNF7Sk1Tah0a89q02rLTXsWjbKKHGeuURAa8tl9rvu5TyWny1YiSIo5eDqF260Tai6vQ==
# Import-only (buf.yaml): never linted, never generated. Each file's imports
# outside google/protobuf are in the list too.
FILES=(
  google/api/annotations.proto
  google/api/client.proto
  google/api/field_behavior.proto
  google/api/field_info.proto
  google/api/http.proto
  google/api/httpbody.proto
  google/api/launch_stage.proto
  google/api/resource.proto
  google/longrunning/operations.proto
  google/rpc/code.proto
  google/rpc/error_details.proto
  google/rpc/status.proto
)
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/third_party/googleapis
# The marker names the files too, so that a copy made before a file was
# added to FILES is refreshed.
pinned="$PKG@$VER $SUM ${FILES[*]}"
if [ -f "$dest/.pinned" ] && [ "$(cat "$dest/.pinned")" = "$pinned" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "scripts/googleapis.sh needs npm (Node.js) to fetch $PKG@$VER" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tgz=$(cd "$tmp" && npm pack "$PKG@$VER" --silent --no-audit --no-fund | tail -n1)
[ -f "$tmp/$tgz" ] || { echo "npm pack $PKG@$VER made no tarball" >&2; exit 1; }
sum=sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tmp/$tgz")
[ "$sum" = "$SUM" ] || { echo "hash mismatch for $PKG@$VER: $sum" >&2; exit 1; }
tar -xzf "$tmp/$tgz" -C "$tmp" package/LICENSE "${FILES[@]/#/package/}"
rm -rf "$dest"
for f in "${FILES[@]}"; do
  install -D -m 0644 "$tmp/package/$f" "$dest/$f"
done
install -m 0644 "$tmp/package/LICENSE" "$dest/LICENSE"
echo "$pinned" > "$dest/.pinned"
echo "googleapis protos: $PKG@$VER -> ${dest#"$root"/}"
