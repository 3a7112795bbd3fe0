#!/usr/bin/env bash
# Installs everything the system and its tests need on a Debian 12 machine, idempotently:
# Debian packages (Gloo, codecs, RabbitMQ, Prometheus, the PyTorch reference,
# Fashion-MNIST, Chromium for the browser test) and Azurite from the committed npm lock file. Safe to run again: it only does
# what is missing, and says what it does.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
step() { printf '\033[1m[provision]\033[0m %s\n' "$*"; }

packages=(
  cmake g++ make                                  # the collectives library's build (src/Pipeline.Distributed)
  libgloo-dev                                     # CPU collectives (TorchSharp itself comes from NuGet)
  libjemalloc2                                    # the trainers' allocator (src/Pipeline.Vision/NativeAllocator.cs)
  libopenblas0-pthread                            # fast BLAS for Debian's PyTorch (the reference) instead of the reference BLAS
  libturbojpeg0-dev libpng-dev                    # image codecs
  python3-torch python3-torchvision python3-pil python3-numpy  # the reference for parity tests and benchmarks
  dataset-fashion-mnist                           # real data
  rabbitmq-server prometheus                      # infrastructure the AppHost runs
  nodejs                                          # Azurite, the dashboard's bundle build
  chromium chromium-driver                        # the dashboard's browser test (headless, Playwright)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    sudo_cmd=(sudo)
  else
    sudo_cmd=()
  fi
  step "installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The rabbitmq-server package starts a system service where it can; we run our own instances.
  "${sudo_cmd[@]}" systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
else
  step "Debian packages: all ${#packages[@]} present"
fi

if ! command -v npm >/dev/null 2>&1; then
  step "npm is missing: installing Debian's npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi

if [[ ! -x "$here/azurite/node_modules/.bin/azurite-blob" ]]; then
  step "installing Azurite from infra/azurite/package-lock.json"
  (cd "$here/azurite" && npm ci --no-audit --no-fund --loglevel=error)
else
  step "Azurite: present"
fi

step "done"
