#!/usr/bin/env bash
# The project's test command: provisions what is missing, builds the solution (native shim included)
# and runs every test project. Extra arguments go to `dotnet test` (e.g. --filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash infra/provision.sh
echo "[test] building Pipeline.sln (Release)"
dotnet build Pipeline.sln -c Release -nologo -v minimal

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
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
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
