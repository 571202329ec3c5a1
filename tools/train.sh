#!/usr/bin/env bash
# Installs what is missing, builds lazynn and runs the main sample trainer.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2086
install_missing $LAZYNN_BUILD_PACKAGES
cd "$LAZYNN_ROOT"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLAZYNN_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j "${JOBS:-2}"
./build/release/samples/regression_demo "$@"
