#!/usr/bin/env bash
# Builds the fuzz targets with clang (tests/fuzz/CMakeLists.txt) in one
# build folder and runs them. Two modes:
#
#   tests/fuzz/run_fuzzers.sh [TARGET...]
#       What CI runs: each target a fixed number of executions (-runs) with a
#       fixed -seed and -max_len from exactly the committed inputs (its
#       tests/fuzz/corpus/<target>/ and regressions/<target>/, plus the
#       corpora of related targets), read in name order, nothing kept
#       between runs. The same commit fuzzes the same inputs on every
#       machine, so a finding here is a finding on the commit, not luck.
#       Exits non-zero on any finding (crash, sanitizer report, leak,
#       timeout, out of memory) after printing the input's path, its bytes
#       and the commands that replay it.
#
#   tests/fuzz/run_fuzzers.sh --time SECONDS [TARGET...]
#       Exploration: each target for SECONDS from the committed inputs and
#       every input found before ($DAUB_FUZZ_BUILD/corpus/<target>/, kept),
#       with a random seed unless DAUB_FUZZ_SEED is set. Also exits non-zero
#       on a finding.
#
# Environment: DAUB_FUZZ_BUILD (build folder, default build-fuzz),
# DAUB_FUZZ_JOBS (compile jobs and targets run at once, default: all
# cores), DAUB_FUZZ_SEED (exploration's seed), DAUB_FUZZ_RUNS (fixed runs:
# this many executions for every target instead of the table below, to
# measure rates), DAUB_FUZZ_SKIP_BUILD=1 (use the programs already built). Findings go to
# $DAUB_FUZZ_BUILD/findings/<target>/ with the run's log; once fixed, an
# input goes into tests/fuzz/regressions/<target>/, which the ordinary test
# run replays (ctest -L fuzz) and which every later fixed run starts from.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=fixed
seconds=0
if [ "${1:-}" = --time ]; then
  mode=time
  seconds=${2:?"--time needs a number of seconds"}
  shift 2
fi
all=(torch_pickle weight_file checkpoint image app_image api_request image_parameters prompt_syntax
     tokenizer_prompt tokenizer_files)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build=${DAUB_FUZZ_BUILD:-build-fuzz}
jobs=${DAUB_FUZZ_JOBS:-$(nproc)}

# The fixed runs: executions, -max_len (bytes; above the largest seed),
# -timeout per input (s). Executions are sized from each target's measured
# rate so that the whole stage takes about 5 minutes on CI's 2 cores (see
# README.md, "Fuzzing"); -rss_limit_mb is 2048 for all. Two runs of each
# gave the same final "#N DONE cov: ft: corp:" line, except image past
# 27,000 executions: there a 2.3-megapixel BMP took 5–10 s, and whether it
# passed 10 s changed the coverage seen (cov ±2), so image stops at 25,000.
declare -A runs=(
  [torch_pickle]=1200000 [weight_file]=800000 [checkpoint]=8000 [image]=25000
  [app_image]=600000 [api_request]=1000000 [image_parameters]=1500000 [prompt_syntax]=400000
  [tokenizer_prompt]=18000 [tokenizer_files]=40000
)
declare -A max_len=(
  [torch_pickle]=4096 [weight_file]=4096 [checkpoint]=40960 [image]=4096 [app_image]=4096
  [api_request]=4096
  [image_parameters]=4096 [prompt_syntax]=4096 [tokenizer_prompt]=4096 [tokenizer_files]=4096
)
declare -A timeout=(
  [torch_pickle]=10 [weight_file]=20 [checkpoint]=30 [image]=20 [app_image]=20 [api_request]=10
  [image_parameters]=10 [prompt_syntax]=10 [tokenizer_prompt]=10 [tokenizer_files]=20
)
fixed_seed=1913 # any fixed number; changing it changes every fixed run

# Seeds a target also starts from: other targets' corpora of the same kind.
declare -A extra_seeds=(
  [weight_file]=tests/fuzz/corpus/torch_pickle # torch zip checkpoints are weight files too
  [app_image]=tests/fuzz/corpus/image
  [tokenizer_prompt]=tests/fuzz/corpus/prompt_syntax
)
for t in "${targets[@]}"; do
  [ -n "${runs[$t]:-}" ] || { echo "fuzz: no target '$t' (targets: ${all[*]})"; exit 2; }
done

start=$(date +%s)
if [ "${DAUB_FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  mkdir -p "$build"
  CC=clang CXX=clang++ cmake -S tests/fuzz -B "$build" -G Ninja > "$build/configure.log" 2>&1 ||
    { cat "$build/configure.log"; exit 1; }
  cmake --build "$build" -j "$jobs"
fi
built=$(date +%s)
if [ "$mode" = fixed ]; then
  echo "fuzz: built in $((built - start)) s; fixed runs (seed $fixed_seed) of" \
       "${#targets[@]} targets, $jobs at a time"
else
  echo "fuzz: built in $((built - start)) s; ${#targets[@]} targets for $seconds s each," \
       "$jobs at a time"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export QT_QPA_PLATFORM=offscreen
# A fixed run is deterministic only where addresses are: the instrumented
# comparisons libFuzzer learns from (and some parsers' paths) see pointer
# values, so with address randomisation two runs of one commit part ways
# after a few thousand inputs. They run without it (setarch -R) and with a
# fixed environment (whose size moves the stack), which made repeated runs
# identical; where the kernel refuses (some containers), they run as they
# can and say so.
pin=()
if [ "$mode" = fixed ]; then
  fixed_env=(env -i "PATH=/usr/bin:/bin" "ASAN_OPTIONS=$ASAN_OPTIONS"
             "UBSAN_OPTIONS=$UBSAN_OPTIONS" "QT_QPA_PLATFORM=offscreen" "OMP_NUM_THREADS=1"
             "OMP_WAIT_POLICY=PASSIVE" "QT_HASH_SEED=0") # Qt seeds its hashes per process otherwise
  if setarch "$(uname -m)" -R true 2> /dev/null; then
    pin=("${fixed_env[@]}" setarch "$(uname -m)" -R)
  else
    pin=("${fixed_env[@]}")
    echo "fuzz: WARNING: this kernel refuses to turn off address randomisation (setarch -R);" \
         "the fixed runs may differ from run to run"
  fi
fi

# run_one TARGET: one libFuzzer run; its exit status is the run's.
run_one() {
  local t=$1 findings="$build/findings/$1"
  mkdir -p "$findings"
  local log="$findings/log" list="$findings/seeds"
  # Every committed input, in name order (a folder's listing order differs
  # between file systems, and libFuzzer reads its inputs in that order).
  local dirs=(tests/fuzz/corpus/"$t" tests/fuzz/regressions/"$t")
  [ -n "${extra_seeds[$t]:-}" ] && dirs+=("${extra_seeds[$t]}")
  find "${dirs[@]}" -type f -size +0 ! -name README ! -name '*.md' | LC_ALL=C sort |
    paste -sd, > "$list"
  local args=(-max_len="${max_len[$t]}" -timeout="${timeout[$t]}" -rss_limit_mb=2048
              -dict=tests/fuzz/dict/"$t".dict -artifact_prefix="$findings/" -print_final_stats=1
              -seed_inputs=@"$list")
  if [ "$mode" = fixed ]; then
    args+=(-seed="$fixed_seed" -runs="${DAUB_FUZZ_RUNS:-${runs[$t]}}" -reload=0)
  else
    mkdir -p "$build/corpus/$t"
    args+=(-max_total_time="$seconds" "$build/corpus/$t")
    [ -n "${DAUB_FUZZ_SEED:-}" ] && args+=(-seed="$DAUB_FUZZ_SEED")
  fi
  if [ "$mode" = fixed ]; then
    # Only stdin, stdout and stderr: the fuzz targets name files by their
    # descriptor (/proc/self/fd/N), so N must not depend on what the caller
    # left open.
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2> /dev/null
    done
  fi
  echo "${pin[*]} $build/fuzz_$t ${args[*]}" > "$findings/command"
  touch "$findings/.start"
  local t0
  t0=$(date +%s)
  "${pin[@]}" "$build/fuzz_$t" "${args[@]}" > "$log" 2>&1
  local rc=$?
  echo "$(( $(date +%s) - t0 ))" > "$findings/seconds"
  return $rc
}

# Up to $jobs targets at a time; each one's status in $build/findings/<t>/rc.
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  ( set +e; run_one "$t"; echo $? > "$build/findings/$t/rc" ) &
done
wait

failed=()
for t in "${targets[@]}"; do
  findings="$build/findings/$t"
  log="$findings/log"
  rc=$(cat "$findings/rc" 2>/dev/null || echo 1)
  took=$(cat "$findings/seconds" 2>/dev/null || echo '?')
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  if [ "$rc" = 0 ]; then
    echo "fuzz_$t: ok in $took s: ${done_line:-finished}"
    continue
  fi
  failed+=("$t")
  echo "fuzz_$t: FINDING after $took s (exit $rc; log: $log)"
  grep -E -A40 '^==[0-9]+==|fuzz invariant broken|^SUMMARY|terminate called|runtime error' \
    "$log" | head -80 || tail -40 "$log"
  # This run's inputs (earlier runs' stay for whoever is fixing them).
  find "$findings" -maxdepth 1 -type f -newer "$findings/.start" \
      \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | LC_ALL=C sort |
      while read -r f; do
    echo "--- reproducer: $f ($(stat -c %s "$f") bytes), base64:"
    head -c 65536 "$f" | base64 | head -200
    echo "--- replay it:   $build/fuzz_$t -timeout=${timeout[$t]} -rss_limit_mb=2048 $f"
    replay=build/tests/fuzz/fuzz_replay
    [ "$t" = app_image ] || [ "$t" = api_request ] && replay=build/tests/fuzz/fuzz_replay_app
    echo "    or, without sanitizers, after the normal build: $replay $t $f"
  done
  echo "--- the whole run again: tests/fuzz/run_fuzzers.sh $t   (or: $(cat "$findings/command"))"
done
finish=$(date +%s)
echo "fuzz: build $((built - start)) s + runs $((finish - built)) s = $((finish - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}"
  exit 1
fi
