#!/usr/bin/env bash
# Installs every Debian 12 package Daub needs to build, test and run.
# Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev nlohmann-json3-dev libstb-dev libpng-dev libwebp-dev
  # zlib: decompresses the CLIP merge list compiled into the engine.
  zlib1g-dev
  # Debian's libtorch calls the system BLAS; without this it gets the
  # reference BLAS and CPU matrix products run about half as fast.
  libopenblas0-openmp
  qt6-base-dev qt6-declarative-dev qt6-declarative-dev-tools qcoro-qt6-dev
  qt6-image-formats-plugins
  # The local A1111-compatible API (app/server).
  qt6-httpserver-dev
  qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-templates
  qml6-module-qtquick-layouts qml6-module-qtquick-window qml6-module-qtquick-dialogs
  qml6-module-qt-labs-platform qml6-module-qt-labs-settings qml6-module-qtcore
  qml6-module-qttest
  # QtQuick.Dialogs' own (non-native) file dialog imports Qt.labs.folderlistmodel.
  qml6-module-qt-labs-folderlistmodel
  xvfb xauth libgl1-mesa-dri libegl1 fonts-dejavu-core
  libqt6svg6
  # The history's SQLite database (Qt SQL's QSQLITE driver).
  libqt6sql6-sqlite
  # The .deb (cpack's dpkg-shlibdeps step needs dpkg-dev and file), its PNG
  # icons rendered from the SVG, and the validators its tests run on the
  # desktop entry and the AppStream metadata.
  dpkg-dev file librsvg2-bin desktop-file-utils appstream
  # The fuzz targets (tests/fuzz, built and run by .ci/run after the tests):
  # clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer for
  # readable stack traces.
  clang libclang-rt-14-dev llvm
)

# Node.js and npm for the API's outside-client test (tests/api-client):
# Debian's, unless a node and an npm are already there (e.g. NodeSource's,
# whose nodejs carries npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
