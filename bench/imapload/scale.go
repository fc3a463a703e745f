package main

// The large-mailbox benchmark's two halves (bench/scale.sh): a realistic
// corpus for -write-mbox -corpus, and -time-cmds, which times single
// commands on one session.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"os"
	"strconv"
	"strings"
	"time"

	"pail/bench/imapload/imapc"
)

// The corpus's shape: what a personal mailbox kept for two years holds.
const (
	corpusMinSize = 2 << 10 // messages are 2–8 KiB, uniformly
	corpusMaxSize = 8 << 10
	// multipartPercent of the messages are multipart: two thirds
	// text+HTML alternatives, one third text with an attachment.
	multipartPercent = 15
	// encodedPercent of the subjects are RFC 2047 encoded words (UTF-8 B
	// and Q, ISO-8859-1 Q), rawUTF8Percent raw UTF-8 (RFC 6532);
	// nonASCIIBodyPercent of the texts are UTF-8 quoted-printable.
	encodedPercent      = 10
	rawUTF8Percent      = 1
	nonASCIIBodyPercent = 10
	replyPercent        = 30
	// Every zoeEvery-th message (and message 3) is from the rare
	// sender "zoe"; every zanzibarEvery-th (and message 7) has the rare
	// word "zanzibar" in its text. No other header or text holds either
	// string, so a search's hits can be checked against the counts.
	zoeEvery      = 2000
	zanzibarEvery = 5000
)

// corpusStart and corpusEnd bound the arrival times: messages arrive in
// UID order, evenly spread over the span with some jitter.
var (
	corpusStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	corpusEnd   = time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
)

// Word lists of the corpus; none holds "zoe", "zanzibar", "from" (no
// body line may start with "From ") or a line that mbox would quote.
var (
	firstNames = []string{"Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Irene", "Jack",
		"Karen", "Liam", "Maria", "Noah", "Olga", "Peter", "Quinn", "Rosa", "Sam", "Tara", "Ulrich", "Vera",
		"Walter", "Xavier", "Yusuf", "Chloe", "Mateo", "Priya", "Kenji", "Fatima", "Lars", "Ingrid"}
	lastNames = []string{"Smith", "Jones", "Miller", "Garcia", "Nguyen", "Kowalski", "Rossi", "Dubois",
		"Schmidt", "Tanaka", "Okafor", "Larsen", "Silva", "Cohen", "Novak", "Hughes", "Patel", "Berg"}
	accentNames = []string{"Renée Lefèvre", "Jürgen Müller", "José Peña", "Ångström Labs", "Søren Kjær",
		"François Gérard", "Zoltán Kovács", "Łukasz Wójcik", "Ιωάννης Παπαδόπουλος", "李伟", "Дмитрий Иванов"}
	domains = []string{"town.test", "hill.test", "example.org", "mail.example.com", "lists.example.net",
		"corp.example", "uni.example.edu", "shop.example", "bank.example", "news.example.org"}
	lists = []string{"dev.lists.example.net", "announce.example.org", "hiking-club.town.test", "books.lists.example.net"}
	topic = []string{"quarterly report", "meeting notes", "project plan", "invoice", "travel booking",
		"weekly update", "server migration", "budget review", "design draft", "release schedule",
		"holiday photos", "team lunch", "contract renewal", "support ticket", "newsletter",
		"conference talk", "build failure", "password reset", "delivery notice", "order confirmation"}
	qualifier = []string{"for the north office", "next week", "before Friday", "version 2", "final",
		"draft", "urgent", "follow-up", "for review", "in March", "and open questions", "(updated)"}
	accentSubjects = []string{"Café meeting on Thursday", "Größe der Anhänge", "Réunion à Genève",
		"Año nuevo, planes nuevos", "Smörgåsbord i fredags", "Привет из Москвы", "会议记录 — 第三季度",
		"Ελληνικά νέα", "naïve résumé review", "日本語のテスト"}
	vocabulary = strings.Fields(`the a of and to in is it that for on with as be at by this we you
		not are or have was but all they will can one an if their has more about which when there
		what so out up into some them could time only new would other also any these two may
		first then do our well should because very through just over most even see such here work
		report plan meeting office team project server mail budget draft review release schedule
		please thanks attached below above week month year today tomorrow morning afternoon
		question answer change update issue ticket customer order invoice payment contract travel
		hotel flight train booking conference talk slides numbers figures chart table list
		north south east west city river mountain garden kitchen library museum market`)
	accentWords = strings.Fields(`café naïve résumé über Größe Straße señor año façade smörgåsbord
		crème brûlée déjà vu Zürich München São Paulo Kraków Ålesund`)
	zones = []int{-8, -5, -4, 0, 1, 2, 3, 5, 8, 9} // hours east of UTC
)

// corpus generates the messages of a mailbox of n messages.
type corpus struct {
	n    int
	seed uint64
}

// rng is message i's own random stream (part p of it), so that any
// message, and any earlier message's subject, is made alone.
func (c corpus) rng(i, p int) *rand.Rand {
	return rand.New(rand.NewPCG(c.seed, uint64(i)<<8|uint64(p)))
}

// zoe reports whether message i is from the rare sender.
func (c corpus) zoe(i int) bool { return i == 3 || i%zoeEvery == zoeEvery/2 }

// zanzibar reports whether message i has the rare word.
func (c corpus) zanzibar(i int) bool { return i == 7 || i%zanzibarEvery == zanzibarEvery/2 }

// arrival is message i's arrival time (its mbox separator and internal date).
func (c corpus) arrival(i int) time.Time {
	span := corpusEnd.Sub(corpusStart)
	t := corpusStart.Add(time.Duration(float64(span) * (float64(i) - 0.5) / float64(c.n)))
	jitter := time.Duration(c.rng(i, 0).Int64N(int64(30 * time.Minute)))
	return t.Add(jitter)
}

// subject is message i's subject before any "Re: " and encoding, and
// whether it holds non-ASCII text.
func (c corpus) subject(i int) (string, bool) {
	r := c.rng(i, 1)
	if r.IntN(100) < encodedPercent+rawUTF8Percent {
		return accentSubjects[r.IntN(len(accentSubjects))], true
	}
	return capital(topic[r.IntN(len(topic))]) + " " + qualifier[r.IntN(len(qualifier))], false
}

// messageID is message i's Message-ID.
func (c corpus) messageID(i int) string {
	return fmt.Sprintf("<%x.%d@%s>", c.rng(i, 2).Uint32(), i, domains[i%len(domains)])
}

// sizeSlack is how near a message comes to the size drawn for it (a
// word more or less can add or save a line); sizes are drawn that far
// inside 2–8 KiB.
const sizeSlack = 80

// message returns message i with LF line ends and its arrival time. Its
// size is drawn first; the text is lengthened or shortened, a few times
// at most, until the whole message is within sizeSlack of it.
func (c corpus) message(i int) (time.Time, []byte) {
	arrival := c.arrival(i)
	size := corpusMinSize + sizeSlack + c.rng(i, 4).IntN(corpusMaxSize-corpusMinSize-2*sizeSlack+1)
	var best []byte
	adjust := 0
	for range 8 {
		m := c.build(i, arrival, size+adjust)
		d := size - len(m)
		if best == nil || abs(d) < abs(size-len(best)) {
			best = m
		}
		if abs(d) <= sizeSlack {
			break
		}
		adjust += d
	}
	return arrival, best
}

func abs(n int) int { return max(n, -n) }

// build makes message i with a text that brings it to about size bytes.
func (c corpus) build(i int, arrival time.Time, size int) []byte {
	r := c.rng(i, 3)
	var h bytes.Buffer
	hdr := func(name, value string) { h.WriteString(name + ": " + value + "\n") }

	zone := time.FixedZone("", zones[r.IntN(len(zones))]*3600)
	sent := arrival.Add(-time.Duration(2+r.IntN(600)) * time.Second).In(zone)
	var from string
	switch {
	case c.zoe(i):
		from = "Zoe Hartmann <zoe@" + domains[r.IntN(len(domains))] + ">"
	case r.IntN(100) < 8:
		from = mime.QEncoding.Encode("utf-8", accentNames[r.IntN(len(accentNames))]) + " <" + fmt.Sprintf("info%d@", r.IntN(50)) + domains[r.IntN(len(domains))] + ">"
	default:
		// A few correspondents write most of the mail (Zipf).
		k := int(rand.NewZipf(r, 1.2, 1, uint64(len(firstNames)*len(lastNames)-1)).Uint64())
		first, last := firstNames[k%len(firstNames)], lastNames[k/len(firstNames)%len(lastNames)]
		from = fmt.Sprintf("%s %s <%s.%s@%s>", first, last, strings.ToLower(first), strings.ToLower(last), domains[k%len(domains)])
	}
	relay := fmt.Sprintf("mx%d.%s", 1+r.IntN(3), domains[r.IntN(len(domains))])
	hdr("Return-Path", "<bounce-"+strconv.Itoa(i)+"@"+domains[i%len(domains)]+">")
	hdr("Received", fmt.Sprintf("from %s (%s [192.0.2.%d])\n\tby mx.hill.test with ESMTPS id %X\n\tfor <reader@hill.test>; %s",
		relay, relay, 1+r.IntN(250), r.Uint64(), arrival.Format(time.RFC1123Z)))
	hdr("Received", fmt.Sprintf("from [10.0.%d.%d] by %s with ESMTPSA; %s", r.IntN(255), r.IntN(255), relay, sent.Format(time.RFC1123Z)))
	hdr("Date", sent.Format(time.RFC1123Z))
	hdr("From", from)
	hdr("To", "Rita Reader <reader@hill.test>")
	if r.IntN(100) < 20 {
		hdr("Cc", fmt.Sprintf("%s <%s@%s>", firstNames[r.IntN(len(firstNames))], strings.ToLower(lastNames[r.IntN(len(lastNames))]), domains[r.IntN(len(domains))]))
	}
	subj, accented := c.subject(i)
	if r.IntN(100) < replyPercent && i > 1 {
		parent := max(1, i-1-r.IntN(min(i-1, 200)))
		subj, accented = c.subject(parent)
		subj = "Re: " + subj
		hdr("In-Reply-To", c.messageID(parent))
		hdr("References", c.messageID(parent))
	}
	switch {
	case !accented:
		hdr("Subject", subj)
	case r.IntN(encodedPercent+rawUTF8Percent) < rawUTF8Percent:
		hdr("Subject", subj) // RFC 6532 raw UTF-8
	case r.IntN(3) == 0 && isLatin1(subj):
		hdr("Subject", latin1Q(subj))
	case r.IntN(2) == 0:
		hdr("Subject", mime.QEncoding.Encode("utf-8", subj))
	default:
		hdr("Subject", mime.BEncoding.Encode("utf-8", subj))
	}
	hdr("Message-ID", c.messageID(i))
	if r.IntN(100) < 20 {
		l := lists[r.IntN(len(lists))]
		hdr("List-Id", "<"+l+">")
		hdr("List-Unsubscribe", "<mailto:leave@"+l+">")
	}
	hdr("MIME-Version", "1.0")

	// The text: enough words to bring the message to its size.
	rest := size - h.Len()
	nonASCII := r.IntN(100) < nonASCIIBodyPercent
	kind := 0 // 0 plain, 1 alternative, 2 mixed
	if r.IntN(100) < multipartPercent {
		kind = 1 + r.IntN(3)/2
	}
	var body bytes.Buffer
	switch kind {
	case 0:
		ct, cte, t := textPart(r, rest-120, nonASCII, c.zanzibar(i))
		hdr("Content-Type", ct)
		hdr("Content-Transfer-Encoding", cte)
		body.Write(t)
	case 1:
		b := fmt.Sprintf("=_alt_%d_%x", i, r.Uint32())
		hdr("Content-Type", `multipart/alternative; boundary="`+b+`"`)
		words := wordText(r, (rest-500)*2/5, nonASCII, c.zanzibar(i))
		ct, cte, t := encodeText("plain", wrap(words), nonASCII)
		fmt.Fprintf(&body, "This is a multi-part message in MIME format.\n\n--%s\nContent-Type: %s\nContent-Transfer-Encoding: %s\n\n%s\n", b, ct, cte, t)
		html := "<html><body>\n<p>" + strings.ReplaceAll(wrap(words), "\n", "\n<br>") + "</p>\n</body></html>\n"
		ct, cte, t = encodeText("html", html, nonASCII)
		fmt.Fprintf(&body, "--%s\nContent-Type: %s\nContent-Transfer-Encoding: %s\n\n%s\n--%s--\n", b, ct, cte, t, b)
	case 2:
		b := fmt.Sprintf("=_mix_%d_%x", i, r.Uint32())
		hdr("Content-Type", `multipart/mixed; boundary="`+b+`"`)
		attach := make([]byte, max(200, (rest-600)/2*3/4))
		for k := range attach {
			attach[k] = byte(r.Uint32())
		}
		ct, cte, t := textPart(r, rest-600-len(attach)*4/3, nonASCII, c.zanzibar(i))
		fmt.Fprintf(&body, "This is a multi-part message in MIME format.\n\n--%s\nContent-Type: %s\nContent-Transfer-Encoding: %s\n\n%s\n", b, ct, cte, t)
		name := []string{"report.pdf", "scan.pdf", "photo.jpg", "figures.xlsx"}[r.IntN(4)]
		typ := map[string]string{"report.pdf": "application/pdf", "scan.pdf": "application/pdf", "photo.jpg": "image/jpeg",
			"figures.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[name]
		fmt.Fprintf(&body, "--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n", b, typ, name, name)
		enc := base64.StdEncoding.EncodeToString(attach)
		for len(enc) > 76 {
			body.WriteString(enc[:76] + "\n")
			enc = enc[76:]
		}
		fmt.Fprintf(&body, "%s\n--%s--\n", enc, b)
	}
	h.WriteString("\n")
	h.Write(body.Bytes())
	return h.Bytes()
}

// textPart returns the Content-Type, transfer encoding and text of a
// text/plain part of about n bytes.
func textPart(r *rand.Rand, n int, nonASCII, rare bool) (string, string, []byte) {
	return encodeText("plain", wrap(wordText(r, n, nonASCII, rare)), nonASCII)
}

// encodeText encodes text as a text/SUB part: 7bit US-ASCII, or UTF-8
// quoted-printable.
func encodeText(sub, text string, nonASCII bool) (string, string, []byte) {
	if !nonASCII {
		return "text/" + sub + "; charset=us-ascii", "7bit", []byte(text)
	}
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	w.Close()
	return "text/" + sub + "; charset=utf-8", "quoted-printable", bytes.ReplaceAll(b.Bytes(), []byte("\r\n"), []byte("\n"))
}

// wordText returns about n bytes of sentences, with accented words if
// nonASCII and the rare word once, in the middle, if rare.
func wordText(r *rand.Rand, n int, nonASCII, rare bool) []string {
	var words []string
	length, sentence := 0, 0
	for length < max(n, 40) {
		w := vocabulary[r.IntN(len(vocabulary))]
		if nonASCII && r.IntN(12) == 0 {
			w = accentWords[r.IntN(len(accentWords))]
		}
		if rare && len(words) == 40 {
			w = "zanzibar"
		}
		if sentence == 0 {
			w = capital(w)
		}
		sentence++
		if sentence > 6 && r.IntN(8) == 0 {
			w += "."
			sentence = 0
		}
		words = append(words, w)
		length += len(w) + 1
	}
	return words
}

// wrap joins words into lines of at most 72 characters.
func wrap(words []string) string {
	var b strings.Builder
	col := 0
	for _, w := range words {
		if col > 0 && col+1+len(w) > 72 {
			b.WriteByte('\n')
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteByte('\n')
	return b.String()
}

func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// isLatin1 reports whether s fits ISO-8859-1.
func isLatin1(s string) bool {
	for _, c := range s {
		if c > 0xff {
			return false
		}
	}
	return true
}

// latin1Q encodes s (all of it in ISO-8859-1) as one RFC 2047 Q encoded
// word in that charset.
func latin1Q(s string) string {
	var b strings.Builder
	b.WriteString("=?iso-8859-1?q?")
	for _, c := range s {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'):
			b.WriteRune(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("?=")
	return b.String()
}

// writeCorpus writes the corpus of n messages as an mbox and reports on
// standard error what it holds, for checking search hits.
func writeCorpus(path string, n int, seed int64) error {
	c := corpus{n: n, seed: uint64(seed)}
	if err := writeMbox(path, n, c.message); err != nil {
		return err
	}
	zoe, rare := 0, 0
	for i := 1; i <= n; i++ {
		if c.zoe(i) {
			zoe++
		}
		if c.zanzibar(i) {
			rare++
		}
	}
	fmt.Printf("CORPUS messages=%d zoe=%d zanzibar=%d first=%s last=%s\n", n, zoe, rare,
		c.arrival(1).Format(time.DateOnly), c.arrival(n).Format(time.DateOnly))
	return nil
}

// timing is one command's figures in a -time-cmds run.
type timing struct {
	cmd      string
	elapsed  time.Duration // from sending it to reading its tagged OK
	untagged int           // untagged responses
	hits     int           // numbers in * SEARCH responses
}

// runTimeCmds runs timeCmds and prints one line per command:
// "TIME i=N s=SECONDS untagged=N hits=N cmd=...", which bench/scale.sh
// parses.
func runTimeCmds(cfg config) error {
	ts, err := timeCmds(cfg)
	for i, t := range ts {
		fmt.Printf("TIME i=%d s=%.4f untagged=%d hits=%d cmd=%q\n", i+1, t.elapsed.Seconds(), t.untagged, t.hits, t.cmd)
	}
	return err
}

// timeCmds logs in as account -first, SELECTs the mailbox, warms up with
// FETCH 1:* (UID FLAGS), then sends each of the ;-separated commands once,
// one after the other, and times each from sending it to its tagged OK:
// every response is read to its end, literals included, before the clock
// stops. It returns the commands timed before any failure.
func timeCmds(cfg config) ([]timing, error) {
	c, err := imapc.Dial(context.Background(), cfg.addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(cfg.username(0), cfg.pass); err != nil {
		return nil, fmt.Errorf("LOGIN: %w", err)
	}
	if err := c.Select(cfg.mailbox); err != nil {
		return nil, fmt.Errorf("SELECT: %w", err)
	}
	if _, err := c.Command("FETCH 1:* (UID FLAGS)", nil); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	var ts []timing
	for _, cmd := range strings.Split(cfg.timeCmds, ";") {
		t := timing{cmd: strings.TrimSpace(cmd)}
		start := time.Now()
		_, err := c.Command(t.cmd, func(r imapc.Response) {
			t.untagged++
			if rest, ok := strings.CutPrefix(r.Line, "* SEARCH"); ok {
				t.hits += len(strings.Fields(rest))
			}
		})
		t.elapsed = time.Since(start)
		if err != nil {
			return ts, fmt.Errorf("%s: %w", t.cmd, err)
		}
		ts = append(ts, t)
	}
	if err := c.Logout(); err != nil {
		fmt.Fprintln(os.Stderr, "imapload: LOGOUT:", err)
	}
	return ts, nil
}
