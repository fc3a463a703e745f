package message

import (
	"strings"
	"time"

	"golang.org/x/net/html"
)

// maxReferences bounds the References field of a reply; the oldest ids
// are dropped, but the first (the thread's root) is kept.
const maxReferences = 20

// ReplySubject prefixes "Re: " unless the subject already has it.
func ReplySubject(s string) string {
	if hasPrefixFold(s, "re:") {
		return s
	}
	return "Re: " + s
}

// ForwardSubject prefixes "Fwd: " unless the subject already has it.
func ForwardSubject(s string) string {
	if hasPrefixFold(s, "fwd:") || hasPrefixFold(s, "fw:") {
		return s
	}
	return "Fwd: " + s
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// ReplyRecipients returns the To and Cc of a reply to s by self: the
// Reply-To or else the From as To, and with all, every other To and Cc
// address as Cc. self and duplicates are left out.
func ReplyRecipients(s Summary, self string, all bool) (to, cc []Address) {
	seen := map[string]bool{strings.ToLower(self): true}
	add := func(list *[]Address, from []Address) {
		for _, a := range from {
			k := strings.ToLower(a.Address)
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			*list = append(*list, a)
		}
	}
	if len(s.ReplyTo) > 0 {
		add(&to, s.ReplyTo)
	} else {
		add(&to, s.From)
	}
	if len(to) == 0 && len(s.From) > 0 {
		to = append(to, s.From...) // replying to one's own message
	}
	if all {
		add(&cc, s.To)
		add(&cc, s.Cc)
	}
	return to, cc
}

// ReplyReferences returns the References of a reply to s (RFC 5322
// §3.6.4): the parent's References (or In-Reply-To) followed by its
// Message-ID.
func ReplyReferences(s Summary) []string {
	refs := append([]string(nil), s.References...)
	if len(refs) == 0 && len(s.InReplyTo) == 1 {
		refs = append(refs, s.InReplyTo...)
	}
	if s.MessageID != "" {
		refs = append(refs, s.MessageID)
	}
	if len(refs) > maxReferences {
		refs = append(refs[:1], refs[len(refs)-maxReferences+1:]...)
	}
	return refs
}

// Quote returns the body of a reply: an attribution line and the original
// text with every line prefixed by "> ".
func Quote(text string, from []Address, date time.Time) string {
	var b strings.Builder
	who := "someone"
	if len(from) > 0 {
		who = from[0].String()
	}
	b.WriteString("\n\n")
	if !date.IsZero() {
		b.WriteString("On " + date.Format("Mon, 2 Jan 2006 15:04 -0700") + ", ")
	}
	b.WriteString(who + " wrote:\n")
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, ">") {
			b.WriteString(">" + line + "\n")
		} else {
			b.WriteString("> " + line + "\n")
		}
	}
	return b.String()
}

// ForwardText returns the body of a forward: the original's main header
// fields and its text.
func ForwardText(p *Parsed) string {
	var b strings.Builder
	b.WriteString("\n\n---------- Forwarded message ----------\n")
	if len(p.From) > 0 {
		b.WriteString("From: " + joinAddresses(p.From) + "\n")
	}
	if !p.Date.IsZero() {
		b.WriteString("Date: " + p.Date.Format("Mon, 2 Jan 2006 15:04 -0700") + "\n")
	}
	b.WriteString("Subject: " + p.Subject + "\n")
	if len(p.To) > 0 {
		b.WriteString("To: " + joinAddresses(p.To) + "\n")
	}
	if len(p.Cc) > 0 {
		b.WriteString("Cc: " + joinAddresses(p.Cc) + "\n")
	}
	b.WriteString("\n" + p.PlainText() + "\n")
	return b.String()
}

func joinAddresses(list []Address) string {
	s := make([]string, len(list))
	for i, a := range list {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// PlainText is the message's text: the text/plain body, or the text of
// the HTML body when there is no plain one.
func (p *Parsed) PlainText() string {
	if strings.TrimSpace(p.Text) != "" || p.HTML == "" {
		return p.Text
	}
	return HTMLToText(p.HTML)
}

// HTMLToText extracts the readable text of an HTML document: text nodes,
// with line breaks for block elements; scripts and styles are dropped.
func HTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyLines(b.String())
		case html.TextToken:
			if skip == 0 {
				b.WriteString(strings.Join(strings.Fields(string(z.Text())), " ") + " ")
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title":
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table":
				b.WriteString("\n")
			}
		}
	}
}

// tidyLines trims each line and squeezes runs of blank lines.
func tidyLines(s string) string {
	var out []string
	blank := false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
