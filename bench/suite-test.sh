#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the benchmark suite's smoke test.  build/bench/suite runs at
# its smallest (-q, one round: about a second) and must print a table for
# every category, goal lines, and a results file that latest.json links
# to, holding every result with the fields bench/README.md lists; its
# usage errors exit 2.  bench/compare must find nothing in a file against
# itself or against a change within the noise, flag a copy made ten times
# slower as REGRESSED (exit 1) but not with --ratio (the ratios to the
# baselines did not change), flag one made faster as IMPROVED (exit 0),
# and refuse a missing file, one that is not JSON, one without results
# and one with a bad field (exit 2).  Runs on the host (make check).

set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=$repo/build/bench/suite
compare=$repo/bench/compare
work=$(mktemp -d)
nr=0
failed=0

trap 'rm -rf "$work"' EXIT

tap_prefix=bench-suite
. "$repo/tools/tool-test-util.sh"

categories="allocation delta propagation replay persistence stress"

# scale FILE FACTOR OUT: FILE with every figure made FACTOR times slower
# (times multiplied, rates divided), as if a change had cost that much.
scale() {
	python3 - "$@" <<'EOF'
import json, sys

src, factor, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
doc = json.load(open(src))
for r in doc["results"]:
    f = factor if r["better"] == "lower" else 1 / factor
    for k in ("median", "min", "max"):
        r[k] *= f
json.dump(doc, open(out, "w"))
EOF
}

echo "TAP version 13"
echo "1..22"

timeout 60 "$suite" -q -t 1 -d "$work" -o "$work/results" >"$work/suite" 2>&1
status=$?
result "$((!status))" quick-run-exits-0
((!status)) || sed 's/^/#   /' "$work/suite"
for c in $categories; do
	grep -q "^$c  *median  *min  *max" "$work/suite"
	result "$((!$?))" "table-$c"
done
grep -Eq '^goal .* (PASS|MISS)$' "$work/suite"
result "$((!$?))" prints-goal-lines

latest=$work/results/latest.json
target=$(readlink "$latest")
[[ $target == results-*.json && -f $work/results/$target ]]
result "$((!$?))" latest-links-the-results-file

python3 - "$latest" $categories >"$work/json" 2>&1 <<'EOF'
import json, sys

doc = json.load(open(sys.argv[1]))
for k in ("schema", "time", "host", "load", "git", "settings", "results"):
    assert k in doc, f"no {k}"
assert doc["settings"]["rounds"] == 1 and doc["settings"]["quick"]
assert len(doc["load"]["start"]) == 3
seen = set()
for r in doc["results"]:
    for k in ("category", "name", "unit", "better", "median", "min", "max",
              "rounds", "baseline", "ratio", "original", "goal"):
        assert k in r, f"{r.get('name')}: no {k}"
    assert r["min"] <= r["median"] <= r["max"], r["name"]
    if r["baseline"] is not None:
        assert r["ratio_min"] <= r["ratio"] <= r["ratio_max"], r["name"]
        assert r["ratio"] > 0, r["name"]
    if r["goal"] is not None:
        assert r["goal"]["pass"] == (r["goal"]["value"] >= r["goal"]["bound"])
    seen.add(r["category"])
assert seen == set(sys.argv[2:]), seen
EOF
status=$?
result "$((!status))" json-has-every-field
((!status)) || sed 's/^/#   /' "$work/json"

expect compare-itself-exits-0 0 '^# 0 regressed' "$compare" "$latest" "$latest"
scale "$latest" 1.01 "$work/noise.json"
expect compare-noise-exits-0 0 ' noise$' "$compare" "$latest" "$work/noise.json"
scale "$latest" 10 "$work/slow.json"
expect compare-slower-exits-1 1 'REGRESSED' \
	"$compare" "$latest" "$work/slow.json"
expect compare-ratio-ignores-a-swing 0 '^# 0 regressed' \
	"$compare" --ratio "$latest" "$work/slow.json"
scale "$latest" 0.1 "$work/fast.json"
expect compare-faster-exits-0 0 'IMPROVED' \
	"$compare" "$latest" "$work/fast.json"
expect compare-missing-file-exits-2 2 'nothing.json: No such file' \
	"$compare" "$work/nothing.json" "$latest"
echo 'not json' >"$work/text.json"
expect compare-not-json-exits-2 2 'not JSON' \
	"$compare" "$latest" "$work/text.json"
echo '{"time": "x"}' >"$work/empty.json"
expect compare-no-results-exits-2 2 'no "results" list' \
	"$compare" "$work/empty.json" "$latest"
echo '{"results": [{"category": "a", "name": "b", "unit": "ns",
	"median": "fast", "min": 1, "max": 2}]}' >"$work/field.json"
expect compare-bad-field-exits-2 2 'median is not a number' \
	"$compare" "$latest" "$work/field.json"

expect suite-bad-rounds-exits-2 2 '^usage' "$suite" -t 0
expect suite-bad-category-exits-2 2 '^usage' "$suite" -c nosuch
expect suite-one-category 0 '^delta  *median' \
	timeout 60 "$suite" -q -t 1 -d "$work" -c delta

((failed == 0))
