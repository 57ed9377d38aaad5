#!/usr/bin/env bash
# Fuzzes the registry with cargo-fuzz (libFuzzer): scripts/fuzz.sh [target|all] [seconds]
# Targets are in fuzz/fuzz_targets (frame, nats, json, decnet); each runs `seconds`
# (default 60). Prints executions per target; exits non-zero on any crash.
#
#   scripts/fuzz.sh                  every target, 60 s each
#   scripts/fuzz.sh frame 600        one target, 10 minutes
#   FUZZ_SANITIZER=address scripts/fuzz.sh nats    with AddressSanitizer
#
# Seeds come from fuzz/corpus/<target> (committed, read only); what the
# fuzzer learns goes to fuzz/corpus-work/<target>, crashes to
# fuzz/artifacts/<target>/ (both git-ignored). Reproduce a crash with
#   cd fuzz && cargo +nightly fuzz run <target> <artifact path>
set -euo pipefail

# All in a function, so bash has read the whole script before it runs:
# editing this file during a long run cannot change what the run does.
main() {
  local self
  self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  cd "$(dirname "$self")/.."
  export PATH="$HOME/.cargo/bin:$PATH"

  all=(frame nats json decnet)
  which=${1:-all}
  seconds=${2:-60}
  case "$which" in
    all) targets=("${all[@]}") ;;
    frame | nats | json | decnet) targets=("$which") ;;
    -h | --help) sed -n '2,13p' "$self" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz.sh: unknown target '$which' (one of: ${all[*]}, all)" >&2; exit 2 ;;
  esac
  if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: seconds must be a whole number above 0 (got '$seconds')" >&2
    exit 2
  fi

  if ! command -v cargo >/dev/null; then
    echo "fuzz.sh: cargo not found. Install Rust from https://rustup.rs, then run again." >&2
    exit 2
  fi
  if ! cargo +nightly --version >/dev/null 2>&1; then
    cat >&2 <<'EOF'
fuzz.sh: cargo-fuzz needs the nightly toolchain (libFuzzer's instrumentation
uses unstable compiler flags), and `cargo +nightly` is not available. Install it:
    rustup toolchain install nightly
then run this script again. (The project itself builds on stable.)
EOF
    exit 2
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is missing; installing it with 'cargo install cargo-fuzz' (a minute or two, once)"
    cargo install --locked cargo-fuzz || cargo install cargo-fuzz
  fi

  # The crate has no unsafe code outside the wasm allocator, so the default
  # AddressSanitizer finds nothing here that a panic would not; without it the
  # fuzzer runs about twice as fast. Debug assertions (overflow checks) stay on.
  sanitizer=${FUZZ_SANITIZER:-none}
  flags=(--release --debug-assertions --sanitizer "$sanitizer")

  cd fuzz
  echo "==> building ${targets[*]} (cargo +nightly fuzz build, sanitizer: $sanitizer)"
  for t in "${targets[@]}"; do
    cargo +nightly fuzz build "${flags[@]}" "$t"
  done

  failed=()
  summary=()
  for t in "${targets[@]}"; do
    mkdir -p "corpus-work/$t" "artifacts/$t"
    log="target/fuzz-$t.log"
    echo
    echo "==> fuzzing $t for ${seconds}s (full libFuzzer output: fuzz/$log)"
    started=$(date +%s)
    set +e
    # corpus-work first: libFuzzer writes new inputs to the first directory.
    cargo +nightly fuzz run "${flags[@]}" "$t" "corpus-work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -print_final_stats=1 -dict="dict/$t.dict" >"$log" 2>&1
    rc=$?
    set -e
    took=$(($(date +%s) - started))
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::' "$log" || true
    if [ -z "$artifact" ] && [ -z "$execs" ] && [ "$rc" -ne 0 ]; then
      # libFuzzer never started (a bad flag or dictionary, a build problem).
      echo "!! $t: libFuzzer did not run (exit $rc); the end of fuzz/$log:"
      tail -15 "$log"
      failed+=("$t")
      summary+=("$t: did not run")
    elif [ "$rc" -ne 0 ] || [ -n "$artifact" ]; then
      echo "!! $t: CRASH (libFuzzer exit $rc after ${took}s, ${execs:-?} executions)"
      # The panic and its message, or what libFuzzer says (timeout, out of memory).
      grep -A1 -m1 "panicked at" "$log" || grep -E -m 5 "^==.*ERROR|SUMMARY" "$log" || tail -20 "$log"
      if [ -n "$artifact" ]; then
        echo "   artifact: $artifact"
        echo "   reproduce: cd fuzz && cargo +nightly fuzz run ${flags[*]} $t $artifact"
      fi
      failed+=("$t")
      summary+=("$t: CRASH after ${execs:-?} executions in ${took}s")
    else
      echo "<== $t: ${execs:-?} executions in ${took}s, no crash (${done_line:-no DONE line})"
      summary+=("$t: ${execs:-?} executions in ${took}s, no crash")
    fi
  done

  echo
  echo "fuzz summary:"
  printf '  %s\n' "${summary[@]}"
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: failed: ${failed[*]} (crash artifacts under fuzz/artifacts/)" >&2
    exit 1
  fi
}

main "$@"
