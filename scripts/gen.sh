#!/usr/bin/env bash
# Codegen: googleapis imports -> format check -> lint -> generate.
# Serialised with a lock so concurrent runs in one work tree cannot interleave
# (buf.gen.yaml has clean: true).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>"${TMPDIR:-/tmp}/arcgate-gen.lock"
flock 9
./scripts/googleapis.sh
buf() { go tool -modfile=tools/buf.mod buf "$@"; }
buf format -d --exit-code proto
buf lint
buf generate
go run ./scripts/openapi-fix gen/openapiv2/arcgate.swagger.json
