# Shared by the quick-start scripts: root/sudo detection and installing missing Debian packages.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

# The packages every build needs. oneDNN (libdnnl-dev) runs float32 GEMM and convolutions; OpenBLAS
# float64 GEMM. OpenMPI's mpirun looks for an ssh agent even to start ranks on this machine, so
# openssh-client comes with it. clang and its runtime (libFuzzer, sanitizers) build the fuzz
# harnesses (tools/fuzz.sh) and the sanitizer builds of tools/test.sh, which also checks the
# formatting with clang-format over the files git tracks and the static checks with clang-tidy.
LAZYNN_BUILD_PACKAGES="cmake make g++ pkg-config xtensor-dev libxsimd-dev xtl-dev libdnnl-dev libopenblas-dev doctest-dev \
libopenmpi-dev openmpi-bin openssh-client \
libspdlog-dev libfmt-dev nlohmann-json3-dev zlib1g-dev libcli11-dev \
clang libclang-rt-14-dev clang-format clang-tidy git"

# install_missing PKG...: apt-get installs only the packages that are not installed yet.
install_missing() {
    local missing=()
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing: ${missing[*]}"
        $SUDO apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

LAZYNN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
