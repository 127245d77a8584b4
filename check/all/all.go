// Package all links in every check: import it for its side effect, as the
// daemon and the CLI do, and [check.Build] sees them all.
package all

import (
	_ "github.com/mailwarden/mailwarden/check/attachment" // attachment.*, archive.*, scan.exclusion for archives ([attachment])
	_ "github.com/mailwarden/mailwarden/check/attachtext" // attachment.unreadable (documents whose text was not read)
	_ "github.com/mailwarden/mailwarden/check/bayes"      // bayes.00 … bayes.99 ([bayes])
	_ "github.com/mailwarden/mailwarden/check/clamav"     // virus, virus.massmailer ([clamav])
	_ "github.com/mailwarden/mailwarden/check/dkim"       // dkim, dkim.partial, dkim.limit ([dkim])
	_ "github.com/mailwarden/mailwarden/check/dkimsign"   // no findings: the [[dkim_sign]] section of outbound signing
	_ "github.com/mailwarden/mailwarden/check/dlp"        // dlp.TEMPLATE ([dlp])
	_ "github.com/mailwarden/mailwarden/check/dmarc"      // dmarc, dmarc.reject, dmarc.quarantine, spoof.internal ([dmarc], [auth])
	_ "github.com/mailwarden/mailwarden/check/dnsbl"      // dnsbl.NAME, dnswl.NAME ([dns] and [[dnsbl]])
	_ "github.com/mailwarden/mailwarden/check/graymail"   // graymail, graymail.CLASS ([graymail])
	_ "github.com/mailwarden/mailwarden/check/greylist"   // the [greylist] section of the greylist action
	_ "github.com/mailwarden/mailwarden/check/gtube"      // content.gtube
	_ "github.com/mailwarden/mailwarden/check/ioc"        // ioc ([[ioc]])
	_ "github.com/mailwarden/mailwarden/check/keyword"    // keyword.NAME ([[keywords]])
	_ "github.com/mailwarden/mailwarden/check/knownhost"  // client.known_host, client.origin, client.origin_unknown
	_ "github.com/mailwarden/mailwarden/check/lists"      // list.NAME, sender.approved, sender.blocked
	_ "github.com/mailwarden/mailwarden/check/mime"       // message.malformed, scan.exclusion, mime.ambiguous, charset.guessed
	_ "github.com/mailwarden/mailwarden/check/profiler"   // profiler.blocked
	_ "github.com/mailwarden/mailwarden/check/recipient"  // recipient.unknown
	_ "github.com/mailwarden/mailwarden/check/release"    // release.verified, release.invalid
	_ "github.com/mailwarden/mailwarden/check/spam"       // spam, spam.probable ([spam]; the session adds up the score)
	_ "github.com/mailwarden/mailwarden/check/spamtest"   // spamtest.NAME, scored spam tests ([spamtest])
	_ "github.com/mailwarden/mailwarden/check/spf"        // spf, spf.RESULT, spf.helo.RESULT ([spf])
	_ "github.com/mailwarden/mailwarden/check/throttle"   // throttle.NAME
	_ "github.com/mailwarden/mailwarden/check/url"        // url.listed, url.mismatch, url.ip, url.shortener ([urls] and [[uribl]])

	// impersonation.display_name, impersonation.domain, reply_to.mismatch, sender.first_time ([impersonation])
	_ "github.com/mailwarden/mailwarden/check/impersonation"
)
