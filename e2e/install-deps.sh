#!/usr/bin/env bash
# install-deps.sh: install what the end-to-end tests in e2e/ need. Idempotent.
#
#   - Debian packages postfix (debconf "No configuration", never started), swaks, m4,
#     systemd (for systemd-analyze) and util-linux (prlimit); clamav-daemon (clamd,
#     which the tests start privately on testdata/clamav: the system service is never
#     started and freshclam never runs), clamav-testfiles (its virus samples) and
#     clamav-milter (the benchmarks' comparison, run privately on that clamd; its
#     system service is never started); python3-dkim (dkimpy) and python3-nacl
#     (its Ed25519), the other DKIM implementation of the interop tests.
#   - A private, unpacked Sendmail: sendmail-bin, sendmail-cf, libwrap0 and every
#     library sendmail needs that is not installed, fetched with `apt-get download`
#     into var/e2e/debs and unpacked with `dpkg -x` into var/e2e/sendmail.
#     Sendmail's package conflicts with postfix, so it is never installed.
#   - An FQDN for this host in /etc/hosts (Sendmail sleeps 60 s at start without one).
#
# Runs as root. When everything is already present it only checks and takes a
# moment. See e2e/doc.go for how the harness uses all this.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEBS="$ROOT/var/e2e/debs"
SM="$ROOT/var/e2e/sendmail"
SM_BIN="$SM/usr/libexec/sendmail/sendmail"
STAMP="$SM/.mailwarden-stamp"

APT_PACKAGES=(postfix swaks m4 systemd util-linux clamav-daemon clamav-testfiles clamav-milter python3-dkim python3-nacl)
SENDMAIL_DEBS=(sendmail-bin sendmail-cf libwrap0)

export DEBIAN_FRONTEND=noninteractive

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

installed() { # installed PKG: is the Debian package PKG installed?
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "$1 needs root; run: sudo bash e2e/install-deps.sh"
}

apt_updated=0
apt_update() {
	if [[ $apt_updated -eq 0 ]]; then
		say "apt-get update"
		apt-get update -qq
		apt_updated=1
	fi
}

# apt_retry CMD...: run an apt command; on failure refresh the package lists
# once and try again (the lists may be stale or missing on a fresh machine).
apt_retry() {
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt_update
	fi
	if ! "$@"; then
		[[ $apt_updated -eq 0 ]] || die "failed: $*"
		apt_update
		"$@" || die "failed: $*"
	fi
}

# ---------------------------------------------------------------- packages
install_packages() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		say "packages present: ${APT_PACKAGES[*]}"
		return
	fi
	need_root "installing ${missing[*]}"
	# Postfix must not configure or start a system instance: the tests run
	# private instances on random loopback ports.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	echo "postfix postfix/mailname string $(hostname)" | debconf-set-selections
	local policy=/usr/sbin/policy-rc.d made_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	say "apt-get install ${missing[*]}"
	local rc=0
	(apt_retry apt-get install -y -q --no-install-recommends "${missing[@]}") || rc=$?
	[[ $made_policy -eq 0 ]] || rm -f "$policy"
	[[ $rc -eq 0 ]] || exit "$rc"
}

check_system_postfix() {
	local pidfile=/var/spool/postfix/pid/master.pid pid
	if [[ -r $pidfile ]]; then
		pid=$(tr -d ' \n' <"$pidfile")
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
			say "note: a system Postfix master (pid $pid) is running; the tests do not use it"
			return
		fi
	fi
	say "system Postfix is not running (tests use private instances)"
}

# ---------------------------------------------------------------- sendmail
# lib_deps PKG: the lib* packages PKG depends on directly.
lib_deps() {
	apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$1" 2>/dev/null |
		awk '$1 == "Depends:" || $1 == "PreDepends:" { print $2 }' |
		grep -E '^lib' | grep -v '^<' | sort -u || true
}

# sendmail_debs: sendmail-bin, sendmail-cf, libwrap0 and the libraries of
# sendmail-bin (transitively) that are not installed on this machine.
sendmail_debs() {
	local -A seen=()
	local queue=() out=("${SENDMAIL_DEBS[@]}") p d
	for p in "${SENDMAIL_DEBS[@]}"; do seen[$p]=1; done
	mapfile -t queue < <(lib_deps sendmail-bin)
	while [[ ${#queue[@]} -gt 0 ]]; do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[[ -z ${seen[$p]:-} ]] || continue
		seen[$p]=1
		installed "$p" && continue
		out+=("$p")
		while read -r d; do
			[[ -n $d ]] && queue+=("$d")
		done < <(lib_deps "$p")
	done
	printf '%s\n' "${out[@]}"
}

# sendmail_ld_path: the library directories inside the unpacked tree.
sendmail_ld_path() {
	local dirs=() d
	for d in "$SM"/lib/*-linux-gnu "$SM"/usr/lib/*-linux-gnu "$SM"/lib "$SM"/usr/lib; do
		[[ -d $d ]] && dirs+=("$d")
	done
	local IFS=:
	echo "${dirs[*]}"
}

# sendmail_missing_libs: shared libraries sendmail cannot load.
sendmail_missing_libs() {
	LD_LIBRARY_PATH=$(sendmail_ld_path) ldd "$SM_BIN" 2>&1 | awk '/not found/ { print $1 }'
}

sendmail_ok() {
	[[ -x $SM_BIN && ! -g $SM_BIN && ! -u $SM_BIN && -f $STAMP &&
		-f $SM/usr/share/sendmail/cf/m4/cf.m4 ]] || return 1
	[[ -z "$(sendmail_missing_libs)" ]]
}

fetch_sendmail() {
	if sendmail_ok; then
		say "sendmail present: $SM ($(cat "$STAMP"))"
		return
	fi
	need_root "unpacking sendmail"
	mkdir -p "$DEBS"
	local pkgs=() p f want=()
	mapfile -t pkgs < <(sendmail_debs)
	local get=()
	for p in "${pkgs[@]}"; do
		compgen -G "$DEBS/${p}_*.deb" >/dev/null || get+=("$p")
	done
	if [[ ${#get[@]} -gt 0 ]]; then
		say "apt-get download ${get[*]} -> var/e2e/debs"
		# apt's _apt sandbox user cannot write into a root-owned repo checkout.
		(cd "$DEBS" && apt_retry apt-get download -q -o APT::Sandbox::User=root "${get[@]}")
	fi
	for p in "${pkgs[@]}"; do
		f=$(compgen -G "$DEBS/${p}_*.deb" | sort -V | tail -n1) || die "no .deb for $p in $DEBS"
		want+=("$f")
	done
	rm -rf "$SM"
	mkdir -p "$SM"
	for f in "${want[@]}"; do
		say "dpkg -x $(basename "$f")"
		dpkg -x "$f" "$SM"
	done
	# dpkg -x keeps the setgid bit (group mail). A setgid binary runs in
	# secure-execution mode, where ld.so ignores LD_LIBRARY_PATH.
	chmod ug-s "$SM"/usr/libexec/sendmail/* 2>/dev/null || true
	[[ -x $SM_BIN ]] || die "no sendmail binary at $SM_BIN"
	local missing
	missing=$(sendmail_missing_libs)
	[[ -z $missing ]] || die "sendmail still misses libraries: $missing (ldd $SM_BIN)"
	printf '%s\n' "${pkgs[*]}" >"$STAMP"
	say "sendmail unpacked into $SM"
}

# ---------------------------------------------------------------- /etc/hosts
# Sendmail wants the host's canonical name to be fully qualified; when it is
# not, it logs "My unqualified host name (x) unknown; sleeping for retry" and
# sleeps 60 s before every start.
ensure_fqdn() {
	local h canon
	h=$(hostname)
	canon=$(getent hosts "$h" | awk 'NR == 1 { print $2 }') || true
	if [[ $canon == *.* ]]; then
		say "host name $h resolves to FQDN $canon"
		return
	fi
	need_root "adding an FQDN to /etc/hosts"
	local line="127.0.1.1 $h.localdomain $h # added by mailwarden e2e/install-deps.sh"
	local old
	old=$(cat /etc/hosts)
	# Rewrite in place: /etc/hosts is often a bind mount that cannot be replaced.
	printf '%s\n%s\n' "$line" "$old" >/etc/hosts
	canon=$(getent hosts "$h" | awk 'NR == 1 { print $2 }') || true
	[[ $canon == *.* ]] || die "added '$line' to /etc/hosts but $h still resolves to '$canon'"
	say "added to /etc/hosts: $line"
}

start=$(date +%s.%N)
install_packages
check_system_postfix
fetch_sendmail
ensure_fqdn
say "done in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }')"
