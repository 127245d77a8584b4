package graymail

import (
	"strings"

	"github.com/mailwarden/mailwarden/scanner/message"
)

// Result is a classification: the class ("" for none) and the cues seen.
type Result struct {
	Class Class
	// Cues are the cues that decided the class, in the order found.
	Cues []string
}

// maxCues bounds the cues a Reason names.
const maxCues = 8

// Reason is the cues, "; "-separated, as the finding's Reason.
func (r Result) Reason() string {
	c := r.Cues
	if len(c) > maxCues {
		c = append(c[:maxCues:maxCues], "…")
	}
	return strings.Join(c, "; ")
}

// platform headers: a header name (lower case) or, ending in "*", a name
// prefix, and the sending platform it fingerprints.
var platforms = []struct{ name, platform string }{
	{"x-mc-user", "Mailchimp"},
	{"x-mailchimp-*", "Mailchimp"},
	{"x-mandrill-user", "Mailchimp Transactional"},
	{"x-sg-eid", "SendGrid"},
	{"x-sg-id", "SendGrid"},
	{"x-ses-outgoing", "Amazon SES"},
	{"x-sfmc-stack", "Salesforce Marketing Cloud"},
	{"x-hs-cid", "HubSpot"},
	{"x-hubspot-*", "HubSpot"},
	{"x-kmail-*", "Klaviyo"},
	{"x-klaviyo-*", "Klaviyo"},
	{"x-roving-id", "Constant Contact"},
	{"x-roving-campaignid", "Constant Contact"},
	{"x-mailgun-sid", "Mailgun"},
	{"x-mailgun-variables", "Mailgun"},
	{"x-mailin-eid", "Brevo"},
	{"x-mailin-campaign", "Brevo"},
	{"x-sib-id", "Brevo"},
	{"x-marketoid", "Marketo"},
	{"x-mkto-*", "Marketo"},
	{"x-pm-message-id", "Postmark"},
	{"x-campaign", "a campaign mailer"},
	{"x-campaignid", "a campaign mailer"},
}

// socialDomains send the notifications of social networks; a sender in
// one of them or a subdomain is social.
var socialDomains = []string{
	"facebookmail.com", "linkedin.com", "x.com", "twitter.com", "instagram.com",
	"pinterest.com", "tiktok.com", "redditmail.com", "reddit.com", "quora.com",
	"tumblr.com", "threads.net", "nextdoor.com", "meetup.com", "discord.com",
	"snapchat.com", "youtube.com", "mixi.jp", "line.me",
}

// socialHeaders are name prefixes the social networks put on their mail.
var socialHeaders = []string{"x-facebook-notify", "x-linkedin-", "x-twitter", "x-instagram"}

// automatedLocal are local parts (or their start) of senders that are
// machines: no one reads a reply.
var automatedLocal = []string{
	"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
	"mailer-daemon", "bounce", "automated", "auto-confirm",
}

// notifierLocal are local parts (or their start) of senders that name
// themselves notifiers: their mail is a notification without a
// transactional cue.
var notifierLocal = []string{"notification", "notify", "alert"}

// unsubscribe and view-in-browser text, lower case.
var (
	unsubscribeCues = []string{
		"unsubscribe", "opt out", "opt-out", "email preferences", "manage your subscription",
		"配信停止", "配信解除", "購読解除", "メルマガ", "メールマガジン", "配信を停止",
		"abmelden", "abbestellen", "se désabonner", "désabonnement", "désinscri",
		"darse de baja", "cancelar suscripción", "annulla iscrizione", "disiscriviti",
		"uitschrijven", "退订", "取消订阅", "수신거부", "수신 거부",
	}
	browserCues = []string{
		"view in browser", "view in your browser", "view this email in", "view it in your browser",
		"view online", "view as a web page", "view as webpage", "trouble viewing this email",
		"ブラウザで表示", "ブラウザで見る", "ブラウザでご覧", "webで見る", "web版で表示", "うまく表示されない",
		"im browser ansehen", "im browser anzeigen", "version en ligne", "afficher dans le navigateur",
		"ver en el navegador", "ver en tu navegador", "visualizza nel browser",
	}
	promoCues = []string{
		"% off", "%off", "％off", "％ off", "discount", "sale ends", "on sale", "flash sale", "big sale",
		"coupon", "promo code", "free shipping", "limited time", "special offer", "deal of", "save up to",
		"shop now", "buy now", "black friday", "cyber monday", "clearance",
		"セール", "割引", "クーポン", "期間限定", "特価", "送料無料", "値下げ", "お得",
		"rabatt", "angebot", "gutschein", "soldes", "promotion", "réduction", "descuento", "oferta",
		"sconto", "offerta", "korting", "打折", "优惠", "할인",
	}
	// transactionalCues are specific: words newsletters' footers use
	// ("your account", お知らせ) would make a no-reply newsletter a
	// notification.
	transactionalCues = []string{
		"your order", "order confirmation", "order #", "order number", "receipt", "invoice",
		"has shipped", "has been shipped", "shipping confirmation", "out for delivery", "tracking number",
		"password", "verification code", "verify your", "confirm your", "one-time code", "security code",
		"sign-in", "sign in attempt", "new login", "security alert", "payment received", "payment confirmation",
		"reservation", "booking", "appointment",
		"ご注文", "注文確認", "注文番号", "発送", "配送", "領収書", "ご請求", "お支払い", "パスワード",
		"認証コード", "確認コード", "ログイン", "ご予約", "予約確認",
		"bestellung", "rechnung", "passwort", "commande", "facture", "mot de passe",
		"pedido", "factura", "contraseña",
	}
)

// Classify decides the graymail class of m, whose envelope sender is
// sender ("" or "<>" for none). It never fails; a message without cues
// has no class.
func Classify(m *message.Message, sender string) Result {
	var cues []string
	add := func(s string) { cues = append(cues, s) }

	// Header cues.
	var listHeader, platform, automated, socialHdr bool
	for _, h := range m.Headers {
		name := strings.ToLower(h.Name)
		v := strings.ToLower(strings.TrimSpace(h.Raw))
		switch name {
		case "list-unsubscribe":
			if listUnsubscribeURIs(h.Raw) > 0 {
				listHeader = true
				add("List-Unsubscribe")
			}
		case "list-unsubscribe-post", "list-id":
			listHeader = true
			add(h.Name)
		case "precedence":
			switch v {
			case "bulk", "list", "junk":
				listHeader = true
				add("Precedence: " + v)
			}
		case "feedback-id":
			if v != "" {
				listHeader = true
				add("Feedback-ID")
			}
		case "auto-submitted":
			if v != "" && !strings.HasPrefix(v, "no") && !strings.HasPrefix(v, "auto-replied") {
				automated = true
				add("Auto-Submitted: " + firstWord(v))
			}
		case "x-auto-response-suppress":
			if v != "" {
				automated = true
				add("X-Auto-Response-Suppress")
			}
		}
		for _, p := range platforms {
			if matchName(name, p.name) {
				if !platform {
					add(h.Name + " (" + p.platform + ")")
				}
				platform = true
				break
			}
		}
		for _, p := range socialHeaders {
			if strings.HasPrefix(name, p) {
				socialHdr = true
			}
		}
	}
	bulkHeader := listHeader || platform

	// The sender: header From, else the envelope sender.
	from := headerAddress(header(m, "From"))
	env := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(sender), "<"), ">")
	local, domain := splitAddr(from)
	if from == "" {
		local, domain = splitAddr(env)
	}
	notifier := isLocal(local, notifierLocal)
	if notifier || isLocal(local, automatedLocal) {
		automated = true
		add("sender " + local + "@")
	}
	if platform {
		automated = true
	}

	reply := header(m, "In-Reply-To") != "" || header(m, "References") != ""
	if reply && !bulkHeader {
		return Result{}
	}

	// Content cues.
	subject := strings.ToLower(m.Subject)
	text := strings.ToLower(searched(m.Text))
	unsub := firstCue(text, unsubscribeCues)
	browser := firstCue(text, browserCues)
	if unsub != "" {
		add("text \"" + unsub + "\"")
	}
	if browser != "" {
		add("text \"" + browser + "\"")
	}
	bulk := bulkHeader || unsub != "" && browser != "" || automated && (unsub != "" || browser != "")

	if sd, ok := socialDomain(domain, env); ok && (bulk || automated || socialHdr) {
		return Result{Social, append([]string{"sender domain " + sd}, cues...)}
	}
	if !bulk && !automated {
		return Result{}
	}
	if bulk {
		if p := firstCue(subject, promoCues); p != "" {
			return Result{Marketing, append(cues, "subject \""+p+"\"")}
		}
		if ps := distinctCues(text, promoCues, 2); len(ps) == 2 {
			return Result{Marketing, append(cues, "text \""+ps[0]+"\"", "text \""+ps[1]+"\"")}
		}
	}
	if automated {
		if notifier {
			return Result{Notification, cues}
		}
		if t := firstCue(subject, transactionalCues); t != "" {
			return Result{Notification, append(cues, "subject \""+t+"\"")}
		}
		if t := firstCue(text, transactionalCues); t != "" {
			return Result{Notification, append(cues, "text \""+t+"\"")}
		}
	}
	if bulk {
		return Result{Newsletter, cues}
	}
	return Result{}
}

// The text searched for content cues: its head and its tail, where
// newsletters put their view-in-browser and unsubscribe lines, so a huge
// text costs no more than this.
const (
	maxHead = 256 << 10
	maxTail = 64 << 10
)

// searched is the part of a message's text searched for content cues.
func searched(text string) string {
	if len(text) <= maxHead+maxTail {
		return text
	}
	return text[:maxHead] + "\n" + text[len(text)-maxTail:]
}

func matchName(name, pattern string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return name == pattern
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t;("); i >= 0 {
		return s[:i]
	}
	return s
}

func isLocal(local string, prefixes []string) bool {
	l := strings.ToLower(local)
	for _, a := range prefixes {
		if strings.HasPrefix(l, a) {
			return true
		}
	}
	return false
}

// socialDomain returns the social network domain that the header From's
// domain, or else the envelope sender's, is in.
func socialDomain(domain, env string) (string, bool) {
	_, ed := splitAddr(env)
	for _, d := range []string{domain, ed} {
		d = strings.TrimSuffix(strings.ToLower(d), ".")
		for _, s := range socialDomains {
			if d == s || strings.HasSuffix(d, "."+s) {
				return s, true
			}
		}
	}
	return "", false
}

// firstCue is the first cue of cues in s (which is lower case), by
// position in cues.
func firstCue(s string, cues []string) string {
	for _, c := range cues {
		if strings.Contains(s, c) {
			return c
		}
	}
	return ""
}

// distinctCues returns up to n cues of cues found in s.
func distinctCues(s string, cues []string, n int) []string {
	var out []string
	for _, c := range cues {
		if len(out) == n {
			break
		}
		if strings.Contains(s, c) {
			out = append(out, c)
		}
	}
	return out
}

// header is the raw value of m's first top-level field name, or "".
func header(m *message.Message, name string) string {
	if m == nil {
		return ""
	}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Raw
		}
	}
	return ""
}

// listUnsubscribeURIs counts the <URI> elements of a List-Unsubscribe
// value (RFC 2369 §3.2): angle-bracketed, comma-separated, comments and
// unbracketed text ignored. Only mailto: and http(s): URIs count.
func listUnsubscribeURIs(v string) int {
	n := 0
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return n
		}
		v = v[i+1:]
		j := strings.IndexByte(v, '>')
		if j < 0 {
			return n
		}
		u := strings.ToLower(strings.TrimSpace(v[:j]))
		v = v[j+1:]
		if strings.HasPrefix(u, "mailto:") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
			n++
		}
	}
}

// headerAddress is the address of a From field value: the last
// angle-bracketed addr-spec, or the first word with an "@" (RFC 5322
// §3.4, read leniently). "" when there is none.
func headerAddress(v string) string {
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			if a := strings.TrimSpace(v[i+1 : i+j]); strings.Contains(a, "@") {
				return a
			}
		}
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool {
		return r == ' ' || r == '\t' || r == ',' || r == '<' || r == '>' || r == '(' || r == ')' || r == '"'
	}) {
		if strings.Contains(w, "@") {
			return w
		}
	}
	return ""
}

// splitAddr splits an address at its last "@".
func splitAddr(a string) (local, domain string) {
	i := strings.LastIndexByte(a, '@')
	if i < 0 {
		return a, ""
	}
	return a[:i], a[i+1:]
}
