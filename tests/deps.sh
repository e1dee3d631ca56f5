#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and running Tahe need, and only those
# that are missing. Idempotent: when everything is present it only asks dpkg and returns.
#
#   bash tests/deps.sh            # as root, or as a user who may sudo
#
# Every dependency of the project is a Debian package; nothing is downloaded from anywhere else.
set -euo pipefail

packages=(
  # Toolchain.
  cmake ninja-build g++ pkg-config
  # Libraries (see find_package in the root CMakeLists.txt).
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libpqxx-dev prometheus-cpp-dev catch2 libssl-dev
  # A throwaway PostgreSQL for the tests and the local suite (binaries in
  # /usr/lib/postgresql/15/bin), and promtool for checking the metrics exposition.
  postgresql-15 postgresql-client-15 prometheus
  # nginx's grpc_pass, the baseline of tests/bench/run_gateway_bench.sh.
  nginx
  # Fetching /metrics in the end-to-end test.
  curl
  # The local launcher's --tls mode makes its CA and certificates with the openssl command.
  openssl
  # xmllint: the SEPA, Finvoice and camt files are validated against their schemas; libxml2
  # itself parses (and schema-validates) the camt.054 bank files invoicing imports.
  libxml2-utils libxml2-dev
  # clang 14 with libFuzzer and the sanitizer runtimes (libclang_rt.fuzzer): tests/fuzz/run.sh.
  clang libclang-rt-14-dev
  # The deployment checkers (tests/deploy) parse the rendered Kubernetes manifests.
  python3-yaml
)

# kubectl renders the deploy/k8s overlays (tests/deploy/check_k8s.sh): Debian's
# kubernetes-client, only when no kubectl is installed (a newer one renders them as well).
if ! command -v kubectl >/dev/null 2>&1; then
  packages+=(kubernetes-client)
fi

missing=()
for package in "${packages[@]}"; do
  # db:Status-Status is "installed" only for a fully configured package ("config-files" after
  # a remove, "half-configured" after a failed install, and so on).
  status=$(dpkg-query -W -f='${db:Status-Status}' "${package}" 2>/dev/null || true)
  if [[ "${status}" != "installed" ]]; then
    missing+=("${package}")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "deps.sh: installing ${missing[*]}" >&2
if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "deps.sh: missing packages (${missing[*]}) and not root, and sudo is not available" >&2
  exit 1
fi

# sudo drops most of the environment, so DEBIAN_FRONTEND goes through env(1).
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
