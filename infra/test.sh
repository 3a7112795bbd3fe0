#!/usr/bin/env bash
# The project's test command: provisions what is missing, builds the solution (the native collectives library included)
# and runs every test project. Extra arguments go to `dotnet test` (e.g. --filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash infra/provision.sh
echo "[test] building Pipeline.sln (Release)"
dotnet build Pipeline.sln -c Release -nologo -v minimal

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
# The services' console logs of every test run folder, printed when a test fails.
export PIPELINE_TEST_LOGS="$results/service-logs"
echo "[test] running tests"
status=0
# One test project at a time: several start the same services (and build them) and all share 2 cores.
dotnet test Pipeline.sln -c Release --no-build -nologo -m:1 --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@" || status=$?

# One closing line over all test projects.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [[ -f "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters"); f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
# Failed tests again at the end, with their messages, so that the tail of a long log says what broke.
if (( failed > 0 )); then
  # The last lines each service instance wrote, from the test runs that had services; then the failures, last.
  for log in "$results"/service-logs/*/*.log; do
    [[ -f "$log" ]] || continue
    echo "--- ${log#"$results"/service-logs/} (last 15 lines)"
    tail -n 15 "$log"
  done
  python3 infra/trx-failures.py "$results"/*.trx || true
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
