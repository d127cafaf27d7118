#!/usr/bin/env bash
# Builds the fuzz targets with clang (tests/fuzz/CMakeLists.txt) and runs
# each for a fixed time, starting from its seeds and every regression
# input; exits non-zero on any finding (a crash, a sanitizer report, a
# timeout, running out of memory), after printing it.
#
#   tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET [TARGET...]]   # default: 30 s, all
#
# Environment: DAUB_FUZZ_BUILD (build folder, default build-fuzz),
# DAUB_FUZZ_JOBS (parallel compile jobs, default: all cores).
# New inputs go to $DAUB_FUZZ_BUILD/corpus/<target>/ (kept between runs),
# findings to $DAUB_FUZZ_BUILD/findings/<target>/ with the run's log. A
# finding, once fixed, goes into tests/fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-30}
[ $# -gt 0 ] && shift
all=(torch_pickle weight_file checkpoint image app_image image_parameters prompt_syntax
     tokenizer_prompt tokenizer_files)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build=${DAUB_FUZZ_BUILD:-build-fuzz}

# Seeds a target also starts from: other targets' corpora of the same kind.
declare -A extra_seeds=(
  [weight_file]=tests/fuzz/corpus/torch_pickle # torch zip checkpoints are weight files too
  [app_image]=tests/fuzz/corpus/image
  [tokenizer_prompt]=tests/fuzz/corpus/prompt_syntax
)

start=$(date +%s)
mkdir -p "$build"
CC=clang CXX=clang++ cmake -S tests/fuzz -B "$build" -G Ninja > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "${DAUB_FUZZ_JOBS:-$(nproc)}"
built=$(date +%s)
echo "fuzz: built in $((built - start)) s; running ${#targets[@]} targets for $seconds s each"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export QT_QPA_PLATFORM=offscreen
failed=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  seeds=(tests/fuzz/corpus/"$t" tests/fuzz/regressions/"$t")
  [ -n "${extra_seeds[$t]:-}" ] && seeds+=("${extra_seeds[$t]}")
  log="$findings/log"
  touch "$findings/.start"
  if "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -dict=tests/fuzz/dict/"$t".dict -artifact_prefix="$findings/" -print_final_stats=1 \
      "$work" "${seeds[@]}" > "$log" 2>&1; then
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    echo "fuzz_$t: ok: ${done_line:-finished}"
  else
    failed+=("$t")
    echo "fuzz_$t: FINDING (log: $log)"
    grep -E -A40 '^==[0-9]+==|fuzz invariant broken|^SUMMARY|terminate called|runtime error' \
      "$log" | head -80
    # This run's inputs (earlier runs' stay for whoever is fixing them).
    find "$findings" -maxdepth 1 -type f -newer "$findings/.start" \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
        while read -r f; do
      echo "--- $f ($(stat -c %s "$f") bytes), base64:"
      head -c 65536 "$f" | base64 | head -200
    done
  fi
done
finish=$(date +%s)
echo "fuzz: build $((built - start)) s + runs $((finish - built)) s = $((finish - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}"
  exit 1
fi
