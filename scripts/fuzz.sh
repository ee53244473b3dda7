#!/usr/bin/env bash
# libFuzzer targets for every parser of outside input (docs/reliability.md, "Fuzzing").
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]   fuzz one target for SECONDS
#   scripts/fuzz.sh all SECONDS                             each target in turn
#   scripts/fuzz.sh list                                    the targets
# Targets: Tests/Fuzz/<target>/main.swift, each built with the Swift toolchain's libFuzzer and
# AddressSanitizer (swiftc -sanitize=fuzzer,address) together with the sources of the parser it
# calls, into .build-fuzz/ (gitignored). The seed corpus is Tests/Fuzz/<target>/corpus/ (the Swift
# Testing suite replays it: Tests/*/FuzzCorpusTests.swift); inputs libFuzzer
# finds interesting go to .build-fuzz/<target>/corpus/, and a crash stops the run with exit 1,
# leaving crash-* in .build-fuzz/<target>/: add it to the committed corpus once it is fixed.
# Inputs are at most 4 KiB (-max_len=4096; the deep-nesting seeds are cut there, still far past
# the nesting limits); libFuzzer options after SECONDS override it. FUZZ_OPT (default -Onone: the build stays short enough for CI; -O for long runs) sets the
# optimisation.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(toml sse deepgram control wav scenario)
out=.build-fuzz
opt=${FUZZ_OPT:--Onone}
[ "$opt" = "-Onone" ] || out=.build-fuzz$opt
flags=(-sanitize=fuzzer,address -parse-as-library "$opt" -g -swift-version 6 -use-ld=lld -package-name voiced-fuzz)

usage() { echo "usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options]   (targets: ${targets[*]})" >&2; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = list ]; then printf '%s\n' "${targets[@]}"; exit 0; fi
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2

# Builds a static library module from sources, once (again when a source is newer).
# module NAME DIR-OR-FILES...
module() {
  local name=$1; shift
  local sources
  sources=$(find "$@" -name '*.swift' | sort)
  local lib=$out/lib/lib$name.a
  if [ -f "$lib" ] && [ -z "$(find $sources -newer "$lib" | head -1)" ]; then return; fi
  echo "fuzz: building $name"
  mkdir -p "$out/lib" "$out/modules" "$out/obj/$name"
  swiftc "${flags[@]}" -wmo -module-name "$name" -I "$out/modules" -emit-module -emit-module-path "$out/modules/$name.swiftmodule" \
    -c $sources -o "$out/obj/$name/$name.o" 2> >(grep -v "^$" >&2)
  ar rcs "$lib" "$out/obj/$name/$name.o"
}

# The parser each target calls: the module it links and the sources compiled into it.
# (VoiceProviders and VoiceControl pull in NIO and libcurl as a whole; their parsers need only
# Foundation and the modules below, so their files are compiled into the target itself.)
extra_sources() {
  case $1 in
    sse) echo Sources/VoiceProviders/SSEParser.swift ;;
    deepgram) echo Sources/VoiceProviders/DeepgramMessage.swift Sources/VoiceProviders/DeepgramKey.swift Sources/VoiceProviders/DeepgramError.swift ;;
    control) echo Sources/VoiceControl/ControlProtocol.swift Sources/VoiceControl/ControlCommand.swift ;;
    *) ;;
  esac
}

build() {
  local t=$1
  [ -f "Tests/Fuzz/$t/main.swift" ] || { echo "fuzz: no target '$t' (targets: ${targets[*]})" >&2; exit 2; }
  # Two runs side by side (scripts/fuzz.sh a 600 & scripts/fuzz.sh b 600) share the libraries:
  # one builds them while the other waits.
  mkdir -p "$out"
  exec {lock}>"$out/.build-lock"
  flock "$lock"
  module Logging .build/checkouts/swift-log/Sources/Logging
  module VoiceCore Sources/VoiceCore
  module VoiceSupport Sources/VoiceSupport
  local exe=$out/$t/fuzz-$t
  local sources
  sources="Tests/Fuzz/$t/main.swift $(extra_sources "$t")"
  [ "$t" = scenario ] && sources="$sources $(find Sources/VoiceTesting -name '*.swift' | sort | tr '\n' ' ')"
  mkdir -p "$out/$t/corpus"
  if [ ! -f "$exe" ] || [ -n "$(find $sources "$out/lib" -newer "$exe" | head -1)" ]; then
    echo "fuzz: building $t"
    swiftc "${flags[@]}" -module-name "Fuzz_$t" -I "$out/modules" $sources -L "$out/lib" -lVoiceSupport -lVoiceCore -lLogging \
      -o "$exe" 2> >(grep -v -e "Cannot export local symbol" -e "^$" >&2)
  fi
  exec {lock}>&-  # unlocks
}

run() {
  local t=$1; shift
  build "$t"
  local log=$out/$t/last-run.log
  echo "fuzz: $t for ${seconds}s: (cd $out/$t && ./fuzz-$t -max_total_time=$seconds -max_len=4096 $* corpus ../../Tests/Fuzz/$t/corpus)"
  # The first corpus folder receives new inputs; the committed seeds are only read.
  local status=0
  (cd "$out/$t" && ./"fuzz-$t" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$@" corpus "../../Tests/Fuzz/$t/corpus") >"$log" 2>&1 || status=$?
  grep -E "^(#[0-9]+[[:space:]]+(DONE|INITED)|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|SUMMARY|==[0-9]+==ERROR|Test unit written)" "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz: FAILED: $t (exit $status); the input is the crash-*/leak-*/timeout-*/oom-* file named above; log: $log" >&2
    return 1
  fi
}

if [ "$target" = all ]; then
  for t in "${targets[@]}"; do build "$t"; done
  failed=0
  for t in "${targets[@]}"; do run "$t" "$@" || failed=1; done
  exit $failed
else
  run "$target" "$@"
fi
