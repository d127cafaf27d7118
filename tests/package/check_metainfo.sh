#!/usr/bin/env bash
# check_metainfo.sh PACKAGING_DIR VERSION
# The desktop entry passes desktop-file-validate, the AppStream metadata
# passes `appstreamcli validate --no-net`, and the metadata's newest release
# is VERSION (so a version bump without a release entry fails here).
set -uo pipefail
dir=$1 version=$2
id=io.github.daub.Daub
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

for tool in desktop-file-validate appstreamcli; do
  command -v $tool >/dev/null || { echo "FAIL: $tool is missing: run packaging/install-deps.sh"; exit 1; }
done

if out=$(desktop-file-validate "$dir/$id.desktop" 2>&1) && [ -z "$out" ]; then
  echo "PASS: desktop-file-validate $id.desktop"
else
  fail "desktop-file-validate $id.desktop: $out"
fi

if out=$(appstreamcli validate --no-net "$dir/$id.metainfo.xml" 2>&1); then
  echo "PASS: appstreamcli validate --no-net $id.metainfo.xml:" $out
else
  fail "appstreamcli validate --no-net $id.metainfo.xml: $out"
fi

# The first <release> is the newest (AppStream lists them newest first).
newest=$(grep -o '<release [^>]*version="[^"]*"' "$dir/$id.metainfo.xml" | head -1 |
         sed -E 's/.*version="([^"]*)".*/\1/')
if [ "$newest" = "$version" ]; then
  echo "PASS: the newest release in the metadata is $version"
else
  fail "the newest release in $id.metainfo.xml is '$newest', the project's version is $version"
fi

echo "$((3 - failures)) passed, $failures failed"
[ $failures -eq 0 ]
