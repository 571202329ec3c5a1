#!/usr/bin/env bash
# Installs what is missing (build tools, Fashion-MNIST, gnuplot), builds lazynn and trains the
# Fashion-MNIST CNN sample (LAZYNN_SAMPLE=fashion_mnist_mlp for the MLP). Extra arguments go to
# the trainer (e.g. --epochs 2).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2086
install_missing $LAZYNN_BUILD_PACKAGES dataset-fashion-mnist gnuplot-nox
cd "$LAZYNN_ROOT"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DLAZYNN_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j "${JOBS:-2}"
SAMPLE="${LAZYNN_SAMPLE:-fashion_mnist_cnn}"
echo "==> training $SAMPLE"
./build/release/samples/"$SAMPLE" --threads 2 --out "out/$SAMPLE" "$@"
