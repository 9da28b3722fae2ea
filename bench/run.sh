#!/usr/bin/env bash
# run.sh: microsim's 1 KiB unary echo against its peers (bench/peers): grpc-go,
# net/rpc, go-micro v5 and a raw TCP ping-pong over 127.0.0.1, and microsim's
# memory transport against grpc-go over bufconn; concurrency 1 and 64.
#
# It builds the peers' test binary once and runs every benchmark COUNT times,
# round after round, so that each peer is measured in every round and a
# change in the machine's load hits them all alike. Then it prints, through
# benchstat (pinned in bench/peers/go.mod as a tool), the medians of calls/s,
# CPU, context switches and allocations per call, and the ratios microsim/peer with the
# issue's targets.
#
# With BASE set to a commit, it also builds the peers' test binary of that
# commit (in a temporary detached git worktree, removed at exit) and runs
# both binaries in every round (base first in odd rounds, head first in
# even ones), so that both see the same load; then it prints the table
# above for the working tree (head) and a before/after comparison per
# benchmark of calls/s and allocs/op, flagging a calls/s median that drops
# by more than 5 % and an allocs/op median that grows. With SIM=1 as well,
# BenchmarkSim/10m of ./bench is run the same way (its test binary built at
# BASE and at head) and compared on sec/op, ns/call and allocs/op, flagging
# a slower median.
#
#	bash bench/run.sh            # COUNT=6 rounds of 1s per benchmark
#	COUNT=10 BENCHTIME=2s bash bench/run.sh
#	OUT=results.txt bash bench/run.sh   # keep the raw results
#	BASE=c55c684 bash bench/run.sh      # and compare with commit c55c684
#	BASE=c55c684 SIM=1 BENCH='Echo/././peer=microsim' bash bench/run.sh
#
# Variables: COUNT (rounds, default 6), BENCHTIME (per benchmark and round,
# default 1s), BENCH (benchmark regexp, default .), OUT (raw results file,
# default a temporary file; with BASE, the head's results, the base's going
# to OUT.base), BASE (a commit to compare with), SIM (1: also compare
# BenchmarkSim/10m, BASE only), SIMBENCHTIME (its -benchtime, default 1x:
# one 10-minute simulation, ~6 s, per binary and round).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
count="${COUNT:-6}"
benchtime="${BENCHTIME:-1s}"
bench="${BENCH:-.}"
base="${BASE:-}"
sim="${SIM:-}"
simbenchtime="${SIMBENCHTIME:-1x}"
tmp="$(mktemp -d)"
basetree="$tmp/base"
cleanup() {
	if [ -d "$basetree" ]; then
		git -C "$here" worktree remove --force "$basetree" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
out="${OUT:-$tmp/peers.txt}"
outbase="$out.base"
if [ -z "$base" ] && [ -n "$sim" ]; then
	echo "run.sh: SIM=1 compares BenchmarkSim with a BASE commit; set BASE" >&2
	exit 2
fi
if [ -n "$base" ]; then
	rev="$(git -C "$here" rev-parse --verify --quiet "$base^{commit}")" || {
		echo "run.sh: BASE=$base is not a commit" >&2
		exit 2
	}
fi

cd "$here/peers"
go test -c -o "$tmp/peers.test" .
benchstat="$(go tool -n benchstat)"

if [ -n "$base" ]; then
	git -C "$here" worktree add --quiet --detach "$basetree" "$rev"
	(cd "$basetree/bench/peers" && go test -c -o "$tmp/peers-base.test" .)
	if [ -n "$sim" ]; then
		(cd "$basetree/bench" && go test -c -o "$tmp/sim-base.test" .)
		(cd "$here" && go test -c -o "$tmp/sim-head.test" .)
	fi
fi

# peers runs one round of the peers' test binary $1 (in its package
# directory $2), appending to $3. go-micro logs a TLS warning on stderr; the
# results are on stdout.
peers() {
	(cd "$2" && "$1" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" 2>/dev/null >>"$3")
}

# simround runs BenchmarkSim/10m once with the test binary $1 (in $2),
# appending to $3.
simround() {
	(cd "$2" && "$1" -test.run '^$' -test.bench '^BenchmarkSim$/^10m' -test.benchtime "$simbenchtime" -test.benchmem 2>/dev/null >>"$3")
}

cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}; $(go version)"
if [ -n "$base" ]; then
	echo "head: $(git -C "$here" rev-parse --short HEAD)$(git -C "$here" diff --quiet HEAD -- "$here/.." || echo ' + uncommitted changes'); base: $(git -C "$here" rev-parse --short "$rev") (BASE=$base)"
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$out"
if [ -n "$base" ]; then
	: >"$outbase"
	simhead="$tmp/sim-head.txt" simbase="$tmp/sim-base.txt"
	: >"$simhead"
	: >"$simbase"
fi
for i in $(seq "$count"); do
	echo "round $i/$count (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	if [ -z "$base" ]; then
		peers "$tmp/peers.test" "$here/peers" "$out"
		continue
	fi
	if [ $((i % 2)) = 1 ]; then
		peers "$tmp/peers-base.test" "$basetree/bench/peers" "$outbase"
		peers "$tmp/peers.test" "$here/peers" "$out"
		if [ -n "$sim" ]; then
			simround "$tmp/sim-base.test" "$basetree/bench" "$simbase"
			simround "$tmp/sim-head.test" "$here" "$simhead"
		fi
	else
		peers "$tmp/peers.test" "$here/peers" "$out"
		peers "$tmp/peers-base.test" "$basetree/bench/peers" "$outbase"
		if [ -n "$sim" ]; then
			simround "$tmp/sim-head.test" "$here" "$simhead"
			simround "$tmp/sim-base.test" "$basetree/bench" "$simbase"
		fi
	fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for f in "$out" ${base:+"$outbase"} ${sim:+"$simhead" "$simbase"}; do
	if grep -q -- '--- FAIL' "$f"; then
		grep -B2 -A5 -- '--- FAIL' "$f" >&2
		echo "run.sh: a benchmark failed ($f)" >&2
		exit 1
	fi
done

echo
if [ -n "$base" ]; then
	echo "Peers table of head:"
fi
"$benchstat" -col /peer -filter '.unit:(calls/s OR cpu-ns/op OR ctxsw/op OR allocs/op)' "$out"

echo
echo "Ratios microsim / peer (medians of calls/s), against the targets:"
"$benchstat" -format csv -col /peer -filter '.unit:calls/s' "$out" 2>/dev/null | awk -F, '
	# The first CSV line that starts with a comma names the peers: microsim in
	# column 2, then each peer in the first of its four columns.
	!names && /^,/ { for (i = 2; i <= NF; i++) if ($i != "") peer[i] = $i; names = 1; next }
	/^Echo\// {
		row = $1; sub(/-[0-9]+$/, "", row)
		base = $2 + 0
		for (i = 3; i <= NF; i++) {
			if (!(i in peer) || $i == "" || $i + 0 == 0) continue
			p = peer[i]; ratio = base / ($i + 0)
			want = 0
			if (row ~ /net=tcp/ && p == "grpc") want = 2
			if (row ~ /net=tcp/ && p == "netrpc") want = 1.2
			if (row ~ /net=tcp/ && p == "gomicro") want = 5
			if (row ~ /net=mem/ && p == "grpc") want = 4
			verdict = want ? (ratio >= want ? sprintf("holds (target >= %.1fx)", want) : sprintf("MISSES (target >= %.1fx)", want)) : "(reference, no target)"
			printf "  %-22s %-11s %10.0f / %10.0f calls/s = %6.3fx  %s\n", row, p, base, $i + 0, ratio, verdict
		}
	}'

[ -n "$base" ] || exit 0

# compare prints benchstat's base/head comparison of the units matching
# $3 for the result files $1 (base) and $2 (head), then a verdict per
# benchmark and unit: calls/s flagged when its median drops by more than
# 5 %, allocs/op when its median grows, sec/op and sec/call (benchstat's
# name for ns/call) when their median grows; benchstat's significance test
# is beside each.
compare() {
	# benchstat names the columns after the files.
	mkdir -p "$tmp/cmp"
	cp "$1" "$tmp/cmp/base"
	cp "$2" "$tmp/cmp/head"
	(cd "$tmp/cmp" && "$benchstat" -filter ".unit:($3)" base head)
	echo
	echo "Verdicts (head vs base, medians):"
	(cd "$tmp/cmp" && "$benchstat" -format csv -filter ".unit:($3)" base head 2>/dev/null) | awk -F, '
		/^,/ { if ($2 != "base") unit = $2; next }
		$1 == "" || $1 == "geomean" || NF < 7 { next }
		{
			row = $1; sub(/-[0-9]+$/, "", row)
			b = $2 + 0; h = $4 + 0; sig = ($6 == "~") ? "not significant" : "significant"
			ch = b ? (h - b) / b * 100 : 0; flag = "ok"
			if (unit == "calls/s" && h < 0.95 * b) flag = "DROPS MORE THAN 5%"
			if (unit == "allocs/op" && h > b) flag = "GROWS"
			if ((unit == "sec/op" || unit == "sec/call") && h > b) flag = "SLOWER"
			printf "  %-40s %-10s %12.6g -> %12.6g  %+7.2f%%  %-16s %s (%s)\n", row, unit, b, h, ch, sig, flag, $7
		}'
}

echo
echo "Before/after: base $(git -C "$here" rev-parse --short "$rev") vs head, same rounds (calls/s, allocs/op):"
compare "$outbase" "$out" 'calls/s OR allocs/op'
if [ -n "$sim" ]; then
	echo
	echo "Before/after: BenchmarkSim/10m, base vs head, same rounds:"
	compare "$simbase" "$simhead" 'sec/op OR ns/call OR allocs/op'
fi
