// Package e2e runs mailwarden's end-to-end tests against real MTAs: private
// Postfix and Sendmail instances that speak to a milter and relay all mail
// to an in-process SMTP sink.
//
// # The harness
//
//   - [StartSink] is a go-smtp server on 127.0.0.1 that accepts everything
//     and keeps each message byte for byte ([Delivery]).
//   - [StartPostfix] and [StartSendmail] (or [StartPostfixWith],
//     [StartSendmailWith] with [Options]) start a private MTA under
//     t.TempDir() on a random 127.0.0.1 port. It accepts mail from any
//     127.x client for any domain, asks the milter (TCP, protocol 6) and
//     relays everything to the sink. [MTAs] lists both for table tests.
//   - [Send] (or [SendWith]) speaks SMTP from a chosen loopback source
//     address and records every reply ([SendResult]); a refused recipient
//     does not stop it, DATA follows when one RCPT was accepted.
//   - [StartMilter] serves an in-process go-milter server.
//
// Everything stops in t.Cleanup; when a test fails, the cleanup logs the
// tail of the MTA's logs ([MTA.Logs]) and its queue ([MTA.Queue]).
//
// A missing MTA is a test failure, never a silent skip, unless
// MAILWARDEN_E2E=skip is set. Both MTAs need root.
//
// # What gets installed
//
// e2e/install-deps.sh (idempotent; `make test` and .ci/run call it):
//
//   - apt-get installs postfix (debconf "No configuration", so no system
//     instance is configured or started), swaks and m4;
//   - apt-get downloads sendmail-bin, sendmail-cf, libwrap0 and every
//     library of sendmail-bin that is not installed (liblockfile1 here)
//     into var/e2e/debs and unpacks them with dpkg -x into
//     var/e2e/sendmail. Sendmail's packages conflict with Postfix's, so
//     they are never installed;
//   - adds "127.0.1.1 HOST.localdomain HOST" to /etc/hosts when the host
//     name is not fully qualified.
//
// # How Postfix runs
//
// DIR/etc/{main.cf,master.cf} (relayhost = [127.0.0.1]:SINK, empty
// mydestination, local delivery disabled, mynetworks = 127.0.0.0/8, no
// chroot, no DNS, smtpd_milters = inet:…, milter_protocol = 6,
// milter_default_action = tempfail), queue in DIR/spool, data in DIR/data,
// log in DIR/maillog (maillog_file through the postlog service). The first
// instance in a test binary starts with "postfix -c DIR/etc start", which
// creates the queue layout; later ones copy that layout and run
// "master -c DIR/etc -d" as a child. Start takes about 50 ms (first: 250 ms).
//
// # How Sendmail runs
//
// DIR/sendmail.mc is built with m4 and cf.m4 from the unpacked sendmail-cf
// into DIR/sendmail.cf: DAEMON_OPTIONS on 127.0.0.1:PORT,
// SMART_HOST relay:[127.0.0.1] with RELAY_MAILER_ARGS "TCP $h SINKPORT",
// confDOMAIN_NAME, RELAY_DOMAIN(`127') so every 127.x client may relay,
// DeliveryMode background, and INPUT_MAIL_FILTER(`mailwarden',
// `S=inet:PORT@127.0.0.1, F=T, T=C:10s;S:30s;R:30s;E:5m'). The daemon runs
// in the foreground ("sendmail -bD -C DIR/sendmail.cf -X DIR/trace") with
// LD_LIBRARY_PATH set to the unpacked libraries, in its own process group.
// Where "unshare -m" works, it runs in a private mount namespace with its
// own /etc/hosts (an FQDN for this host) and /etc/nsswitch.conf
// ("hosts: files"). Start takes about 30 ms.
//
// # Gotchas
//
//   - dpkg -x keeps sendmail's setgid bit; a setgid binary runs in secure
//     mode, where ld.so ignores LD_LIBRARY_PATH. install-deps.sh clears the
//     bit; the harness copies the binary if it is still set.
//   - Without a fully qualified host name Sendmail logs "My unqualified host
//     name … unknown; sleeping for retry" and sleeps 60 s at every start.
//   - Sendmail puts [127.0.0.1] in class w (its own addresses), so
//     SMART_HOST [127.0.0.1] counts as the local host and is dropped: mail
//     went to the recipient domain's MX. It has to be relay:[127.0.0.1].
//   - Sendmail also wants FEATURE(`no_default_msa') (else it binds port
//     587), accept_unresolvable_domains and nocanonify (else it looks up
//     every domain in DNS), a private service.switch (hosts: files), and
//     high QueueLA/RefuseLA (else a busy 2-core machine queues or refuses
//     mail). Its reverse lookup of the client goes through libc, hence the
//     private nsswitch.conf: the test network has no DNS.
//   - Sendmail logs through syslog only and there is no /dev/log here, so
//     [MTA.Logs] holds the -X SMTP traffic trace of every session (client
//     side and relay side) and the daemon's stdout. Debug flags (-d) in
//     daemon mode stopped delivery, so they are not used.
//   - Postfix re-reads a main.cf younger than about two seconds, sleeping
//     300 ms between reads, until it looks stable: 2 s on every start. The
//     harness backdates the files it writes.
//   - A master detached by "postfix start" is reaped by init, not by us,
//     and stays a zombie for a while after SIGTERM; the harness counts a
//     zombie as stopped.
//   - Postfix runs as user postfix, which must traverse the test's temp
//     directory: Go creates it 0700, the harness makes it 0755.
//   - maillog_file needs a postlog service in master.cf and a path under
//     maillog_file_prefixes (default /var only).
//   - smtpd_peername_lookup = no: the milter sees client name "unknown"
//     from Postfix. smtpd_error_sleep_time = 0, or each refusal costs 1 s.
//   - Readiness is read from /proc/net/tcp, not probed by connecting,
//     because a probe connection would be an extra milter session.
package e2e
