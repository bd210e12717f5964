#!/usr/bin/env bash
# Runs one fuzz target (called by scripts/fuzz.sh and by the ctest tests of tests/fuzz):
#   run_target.sh replay NAME BINARY           every file of seeds/NAME and regressions/NAME once
#   run_target.sh fuzz NAME BINARY [SECONDS]   fuzz for SECONDS (default 30) from the corpus
# The corpus lives in $CEPHALGIA_FUZZ_WORK/corpus/NAME (default build-fuzz/fuzz-work): seeded at
# each run from the checked-in seeds and, at run time, from the repository's golden cases
# (tests/rules/cases) and ../shared/fhir-samples, so none of those is duplicated into git. New
# inputs the fuzzer finds accumulate there between runs. A crash writes its reproducer to
# $CEPHALGIA_FUZZ_WORK/artifacts/NAME/; copy it to tests/fuzz/regressions/NAME/ with the fix.
# Options: FUZZ_RSS_LIMIT_MB (default 2048), FUZZ_JOBS (parallel fuzzing processes, default 1),
# FUZZ_EXTRA_ARGS (more libFuzzer flags for the fuzzing run, e.g. -len_control=0).
set -euo pipefail
mode=$1 name=$2 binary=$3 seconds=${4:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$root/../shared
work=${CEPHALGIA_FUZZ_WORK:-$root/build-fuzz/fuzz-work}
seed_tool=${CEPHALGIA_FUZZ_SEED_TOOL:-$(dirname "$binary")/../tests/fuzz/fuzz_seed_tool}
case $name in
  jwt) dict=$here/jose.dict ;;
  http_handling) dict=$here/http.dict ;;
  fhir_client_urls) dict=$here/url.dict ;;
  clinical_text) dict= ;;
  *) dict=$here/json.dict ;;  # hook_request, fhir_readers, knowledge
esac
dict_args=()
[[ -n $dict && -f $dict ]] && dict_args=(-dict="$dict")
# Inputs larger than this are not generated (the service's own body limit is 1 MiB; what the
# fuzzer gains from megabyte inputs is time spent copying).
case $name in
  knowledge) max_len=160000 ;;
  hook_request|fhir_readers) max_len=65536 ;;
  *) max_len=8192 ;;
esac
common=(-rss_limit_mb="${FUZZ_RSS_LIMIT_MB:-2048}" -timeout=25 -max_len=$max_len "${dict_args[@]}")
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

if [[ $mode == replay ]]; then
  files=()
  for dir in "$here/seeds/$name" "$here/regressions/$name"; do
    [[ -d $dir ]] || continue
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$dir" -type f ! -name '*.md' -print0 | sort -z)
  done
  if ((${#files[@]} == 0)); then echo "run_target: no seeds or reproducers for $name"; exit 0; fi
  echo "run_target: replaying ${#files[@]} inputs of $name"
  # Given files (not directories), libFuzzer runs each once and fails on the first crash.
  exec "$binary" "${common[@]}" "${files[@]}"
fi

[[ $mode == fuzz ]] || { echo "usage: $0 replay|fuzz NAME BINARY [SECONDS]" >&2; exit 2; }
corpus=$work/corpus/$name
artifacts=$work/artifacts/$name
mkdir -p "$corpus" "$artifacts"
for dir in "$here/seeds/$name" "$here/regressions/$name"; do
  [[ -d $dir ]] && find "$dir" -type f ! -name '*.md' -exec cp -f {} "$corpus/" \;
done
cases=("$root"/tests/rules/cases/*.json)
samples=("$shared"/fhir-samples/hl7-r4-examples/*.json "$shared"/fhir-samples/cds-hooks/*/*.json)
case $name in
  hook_request)
    "$seed_tool" requests "$corpus" "${cases[@]}" >/dev/null
    for f in "$shared"/fhir-samples/cds-hooks/*/*request*.json; do
      [[ -f $f ]] && cp -f "$f" "$corpus/sample-$(basename "$f")"
    done ;;
  fhir_readers)
    "$seed_tool" prefetch "$corpus" "${cases[@]}" >/dev/null
    for f in "${samples[@]}"; do [[ -f $f ]] && cp -f "$f" "$corpus/sample-$(basename "$f")"; done ;;
  knowledge)
    for f in "$root"/rules/packs/headache/knowledge/*.json; do
      { printf '%s\n' "$(basename "$f")"; cat "$f"; } > "$corpus/$(basename "$f")"
    done ;;
  clinical_text)
    # Clinical prose: the knowledge base, a paragraph a seed.
    if [[ -f $shared/clinical/knowledge.md ]]; then
      awk -v dir="$corpus" 'BEGIN{RS=""} {f=sprintf("%s/knowledge-md-%03d", dir, NR); print > f; close(f)}' \
        "$shared/clinical/knowledge.md"
    fi ;;
esac
echo "run_target: fuzzing $name for ${seconds}s from $(find "$corpus" -type f | wc -l) inputs"
log=$work/$name.log
status=0
"$binary" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$artifacts/" ${FUZZ_JOBS:+-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS} ${FUZZ_EXTRA_ARGS:-} \
  "$corpus" > "$log" 2>&1 || status=$?
grep -a -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done [0-9]+ runs' "$log" || true
if ((status != 0)); then
  echo "run_target: $name FAILED (exit $status); the report (last 60 lines of $log):"
  tail -n 60 "$log"
  echo "run_target: reproducer(s) in $artifacts/:"
  ls -1 "$artifacts" || true
fi
exit "$status"
