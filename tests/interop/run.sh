#!/usr/bin/env bash
# lazynn -> PyTorch -> lazynn checkpoint round trip (run by ctest when python3-torch is installed).
set -euo pipefail
exe="$1"; python="$2"; script="$3"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$exe" write "$dir"
"$python" "$script" "$dir"
"$exe" check "$dir"
