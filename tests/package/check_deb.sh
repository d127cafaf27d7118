#!/usr/bin/env bash
# check_deb.sh CPACK BUILD_DIR SOURCE_DIR VERSION
# Packages the built tree as a .deb (cpack into a scratch folder: nothing is
# compiled), unpacks it with dpkg -x into a scratch root and checks it: the
# control fields, that its dependencies are installed here, its files (the
# programs, desktop entry, metadata, icons, licence notice and nothing else),
# that the programs carry no RPATH and no debug information, and that
# `daub --version` (without a display) and `daub-cli --help` run from it.
set -uo pipefail
cpack=$1 build=$2 source=$3 version=$4
id=io.github.daub.Daub
failures=0 passes=0
pass() { echo "PASS: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {
  echo "$passes passed, $failures failed"
  [ $failures -eq 0 ]
  exit
}

for tool in dpkg-deb dpkg-query dpkg-shlibdeps readelf; do
  command -v $tool >/dev/null || { echo "FAIL: $tool is missing: run packaging/install-deps.sh"; exit 1; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/daub-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

start=$(date +%s%N)
if ! "$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1; then
  cat "$scratch/cpack.log"
  fail "cpack -G DEB failed"
  finish
fi
debs=("$scratch"/out/*.deb)
deb=${debs[0]}
arch=$(dpkg --print-architecture)
if [ ${#debs[@]} -eq 1 ] && [ "$(basename "$deb")" = "daub_${version}_${arch}.deb" ]; then
  pass "cpack made $(basename "$deb") ($(stat -c %s "$deb") bytes) in $((($(date +%s%N) - start) / 1000000)) ms"
else
  fail "cpack made ${debs[*]##*/}, not daub_${version}_${arch}.deb"
  finish
fi

# --- control fields ---------------------------------------------------------
field() { dpkg-deb --field "$deb" "$1"; }
expect_field() {
  local got
  got=$(field "$1")
  if [ "$got" = "$2" ]; then pass "$1: $2"; else fail "$1 is '$got', expected '$2'"; fi
}
expect_field Package daub
expect_field Version "$version"
expect_field Architecture "$arch"
expect_field Section graphics
description=$(field Description)
summary=$(head -1 <<<"$description")
long_lines=$(tail -n +2 <<<"$description" | wc -l)
if [ -n "$summary" ] && [ "$long_lines" -ge 2 ] && [ -n "$(field Maintainer)" ]; then
  pass "a maintainer, the summary '$summary' and $long_lines lines of description"
else
  fail "Maintainer '$(field Maintainer)', Description '$description': a maintainer, a summary and a long description expected"
fi
wide=$(awk 'length > 80' <<<"$description")
[ -z "$wide" ] && pass "no description line over 80 columns" || fail "description lines over 80 columns: $wide"

# Every dependency is one Debian knows and is installed here in a version
# that satisfies it; the computed ones include libtorch and Qt, the listed
# ones the QML modules the app loads at run time.
depends=$(field Depends)
unsatisfied=()
IFS=',' read -ra items <<<"$depends"
for item in "${items[@]}"; do
  satisfied=0
  IFS='|' read -ra alternatives <<<"$item"
  for alternative in "${alternatives[@]}"; do
    read -r name op wanted <<<"$(sed -E 's/^ *([^ (]+) *(\(([<>=]+) *([^)]+)\))?.*/\1 \3 \4/' <<<"$alternative")"
    status=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$name" 2>/dev/null) || continue
    [ "${status%% *}" = installed ] || continue
    if [ -z "$op" ] || dpkg --compare-versions "${status#* }" "$op" "$wanted"; then
      satisfied=1
    fi
  done
  [ $satisfied -eq 1 ] || unsatisfied+=("$item")
done
if [ ${#items[@]} -gt 0 ] && [ ${#unsatisfied[@]} -eq 0 ]; then
  pass "all ${#items[@]} dependencies are installed here"
else
  fail "dependencies not installed here: ${unsatisfied[*]:-(the Depends field is empty)}"
fi
for needed in libtorch qml6-module-qtquick-controls qml6-module-qtquick-dialogs \
              qml6-module-qt-labs-folderlistmodel libqt6quick6 libqt6svg6 libqt6sql6-sqlite; do
  if grep -Eq "(^|, )$needed[^,]*" <<<"$depends"; then
    pass "Depends names $needed"
  else
    fail "Depends does not name $needed: $depends"
  fi
done

# --- files --------------------------------------------------------------------
root=$scratch/root
dpkg-deb -x "$deb" "$root" || { fail "dpkg -x failed"; finish; }
expected=(
  usr/bin/daub usr/bin/daub-cli usr/bin/daub-bench
  usr/share/applications/$id.desktop
  usr/share/metainfo/$id.metainfo.xml
  usr/share/icons/hicolor/scalable/apps/$id.svg
  usr/share/doc/daub/LICENSE-CLIP
)
sizes=(16 32 48 64 128 256)
for size in "${sizes[@]}"; do
  expected+=("usr/share/icons/hicolor/${size}x${size}/apps/$id.png")
done
got=$(cd "$root" && find . -type f -o -type l | sed 's|^\./||' | sort)
want=$(printf '%s\n' "${expected[@]}" | sort)
if [ "$got" = "$want" ]; then
  pass "the package holds exactly the ${#expected[@]} expected files"
else
  fail "the package's files differ from the expected ones (< missing, > unexpected):
$(diff <(echo "$want") <(echo "$got") | grep '^[<>]')"
fi

same_as() {
  if cmp -s "$root/$1" "$2"; then pass "$1 is $(basename "$2") from the sources"; else fail "$1 is not $2"; fi
}
same_as usr/share/applications/$id.desktop "$source/packaging/$id.desktop"
same_as usr/share/metainfo/$id.metainfo.xml "$source/packaging/$id.metainfo.xml"
same_as usr/share/icons/hicolor/scalable/apps/$id.svg "$source/resources/icons/daub.svg"
same_as usr/share/doc/daub/LICENSE-CLIP "$source/engine/tokenizer/data/LICENSE-CLIP"

# Each PNG icon is a PNG of its size (width and height from the IHDR chunk).
for size in "${sizes[@]}"; do
  png=$root/usr/share/icons/hicolor/${size}x${size}/apps/$id.png
  [ -f "$png" ] || continue
  magic=$(od -An -tx1 -N8 "$png" | tr -d ' \n')
  read -r width height <<<"$(od -An -tu4 --endian=big -j16 -N8 "$png")"
  if [ "$magic" = 89504e470d0a1a0a ] && [ "$width" = "$size" ] && [ "$height" = "$size" ]; then
    pass "${size}x${size}/apps/$id.png is a ${width}x${height} PNG"
  else
    fail "${size}x${size}/apps/$id.png: signature $magic, ${width:-?}x${height:-?}"
  fi
done

# --- the programs -----------------------------------------------------------
for program in daub daub-cli daub-bench; do
  binary=$root/usr/bin/$program
  [ -f "$binary" ] || continue
  paths=$(readelf --dynamic "$binary" | grep -E '\((RPATH|RUNPATH)\)')
  [ -z "$paths" ] && pass "$program has no RPATH" || fail "$program has an RPATH: $paths"
  debug=$(readelf --section-headers "$binary" | grep -c '\.debug_')
  [ "$debug" -eq 0 ] && pass "$program is stripped" || fail "$program has $debug .debug_ sections"
done

# Run from the scratch root with the system's libraries only, no display.
run() { env -u DISPLAY -u WAYLAND_DISPLAY -u LD_LIBRARY_PATH QT_QPA_PLATFORM=xcb "$@"; }
out=$(run "$root/usr/bin/daub" --version 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ "$out" = "Daub $version" ]; then
  pass "daub --version without a display: $out"
else
  fail "daub --version exited $rc and printed: $out"
fi
for program in daub-cli daub-bench; do
  out=$(run "$root/usr/bin/$program" --help 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && grep -q "^usage: $program " <<<"$out"; then
    pass "$program --help: $(head -1 <<<"$out")"
  else
    fail "$program --help exited $rc and printed: $out"
  fi
done
# The desktop entry starts a program the package holds.
exec_line=$(grep '^Exec=' "$root/usr/share/applications/$id.desktop" | head -1)
program=$(sed -E 's/^Exec=([^ ]+).*/\1/' <<<"$exec_line")
[ -x "$root/usr/bin/$program" ] && pass "$exec_line starts /usr/bin/$program" ||
  fail "$exec_line: the package has no /usr/bin/$program"

finish
