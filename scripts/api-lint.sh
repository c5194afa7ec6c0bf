#!/usr/bin/env bash
# Google's api-linter over proto/ (AIP conformance), pinned in
# tools/api-linter.mod. Fails on any finding that api-linter.yaml or an
# in-file `(-- api-linter: ... --)` comment does not disable, each with its
# reason. The first run compiles the linter (about 2 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/googleapis.sh
root=$(pwd)
files=$(git ls-files --cached --others --exclude-standard -- 'proto/*.proto' | sed 's|^proto/||')
[ -n "$files" ] || { echo "scripts/api-lint.sh: no .proto files under proto/" >&2; exit 1; }
cd proto
lint() {
  # shellcheck disable=SC2086 # one file per word
  go tool -modfile="$root/tools/api-linter.mod" api-linter \
    -I "$root/third_party/googleapis" --config "$root/api-linter.yaml" \
    --set-exit-status "$@" $files
}
if ! lint --output-format summary; then
  # Where: file, line and message of every finding.
  lint --output-format yaml | grep -v 'problems: \[\]' || true
  echo "api-linter: fix the findings above, or disable a rule in api-linter.yaml with a one-line reason" >&2
  exit 1
fi
