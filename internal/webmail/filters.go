package webmail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"pail/internal/sieve"
	"pail/internal/store"
)

// SieveStore is the part of the store the Filters and Vacation pages
// use: one account's Sieve scripts (store.Store's Sieve API).
type SieveStore interface {
	SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error)
	SieveScript(ctx context.Context, accountID int64, name string) (store.SieveScript, error)
	PutSieveScript(ctx context.Context, accountID int64, name string, text []byte, lim store.SieveLimits) error
	SetActiveSieveScript(ctx context.Context, accountID int64, name string) error
}

var _ SieveStore = (*store.Store)(nil)

// FilterScript names the script the Filters and Vacation pages write.
const FilterScript = "pail-webmail"

// settingsMarker starts the comment line of a generated script that
// holds the forms' settings as JSON, so the pages read them back. JSON
// has no raw line break, so the line is one hash comment (RFC 5228 §2.3).
const settingsMarker = "# pail-webmail-settings: "

// generatedHeader opens every generated script.
const generatedHeader = "# Made by pail's webmail (Filters and Vacation pages).\n" +
	"# Edited by hand, it is kept as written and the pages show the text editor only.\n"

// Form bounds: what one rule or vacation field may hold, and how many
// rules the form keeps (the script size limit bounds the rest).
const (
	maxRules         = 100
	maxRuleText      = 256
	maxVacationText  = 8 << 10
	maxVacationSubj  = 256
	defaultVacDays   = 7  // RFC 5230 §4.1's suggestion
	maxVacDays       = 30 // the interpreter's cap on :days
	vacationDateForm = "2006-01-02"
)

// filterRule is one rule of the form: if the field contains the text,
// do the action.
type filterRule struct {
	Field    string `json:"field"`    // from, to, subject
	Contains string `json:"contains"` // matched with :contains, i;ascii-casemap
	Action   string `json:"action"`   // move, flag, discard
	Folder   string `json:"folder,omitempty"`
}

// vacationSettings are the vacation form's fields.
type vacationSettings struct {
	On      bool   `json:"on"`
	Start   string `json:"start,omitempty"` // YYYY-MM-DD, first day, "" for now
	End     string `json:"end,omitempty"`   // YYYY-MM-DD, last day, "" for open
	Days    int    `json:"days"`
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text"`
}

// filterSettings are what the two forms make a script of.
type filterSettings struct {
	Rules    []filterRule     `json:"rules,omitempty"`
	Vacation vacationSettings `json:"vacation"`
}

// ruleFields maps a form field to the header the rule tests.
var ruleFields = map[string]string{"from": "from", "to": "to", "subject": "subject"}

// check validates a rule from the form: "" or what is wrong, shown to
// the user.
func (r filterRule) check() string {
	if _, ok := ruleFields[r.Field]; !ok {
		return "Choose From, To or Subject."
	}
	if r.Contains == "" || len(r.Contains) > maxRuleText || strings.ContainsAny(r.Contains, "\r\n\x00") {
		return fmt.Sprintf("The text to look for must be one line of 1 to %d characters.", maxRuleText)
	}
	switch r.Action {
	case "move":
		if r.Folder == "" || len(r.Folder) > maxRuleText || strings.ContainsAny(r.Folder, "\r\n\x00") {
			return "Choose the folder to move to."
		}
	case "flag", "discard":
	default:
		return "Choose move, flag or discard."
	}
	return ""
}

// check validates the vacation form, as filterRule.check.
func (v vacationSettings) check() string {
	if v.Days < 1 || v.Days > maxVacDays {
		return fmt.Sprintf("Answer each sender at most once in 1 to %d days.", maxVacDays)
	}
	for _, d := range []string{v.Start, v.End} {
		if _, err := time.Parse(vacationDateForm, d); d != "" && err != nil {
			return "Dates are year-month-day, like 2026-12-24."
		}
	}
	if v.Start != "" && v.End != "" && v.End < v.Start {
		return "The last day comes before the first."
	}
	if len(v.Subject) > maxVacationSubj || strings.ContainsAny(v.Subject, "\r\n\x00") {
		return fmt.Sprintf("The subject must be one line of at most %d characters.", maxVacationSubj)
	}
	if len(v.Text) > maxVacationText || strings.ContainsAny(v.Text, "\r\x00") {
		return fmt.Sprintf("The text must be at most %d characters.", maxVacationText)
	}
	if v.On && strings.TrimSpace(v.Text) == "" {
		return "Write the text of the answer."
	}
	return ""
}

// quote makes a Sieve quoted string (RFC 5228 §2.4.2): backslash and
// double quote escaped; line breaks may stand in it.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// generate makes the script of the forms' settings for the account's
// address. The vacation comes first so that it answers mail a rule then
// moves; the rules follow in order, and a move or discard ends the run
// (stop), a flag goes on to the next rule.
func generate(fs filterSettings, address string) []byte {
	var b bytes.Buffer
	b.WriteString(generatedHeader)
	js, _ := json.Marshal(fs)
	b.WriteString(settingsMarker)
	b.Write(js)
	b.WriteString("\n")
	var req []string
	need := func(ext string) {
		for _, e := range req {
			if e == ext {
				return
			}
		}
		req = append(req, ext)
	}
	for _, r := range fs.Rules {
		switch r.Action {
		case "move":
			need("fileinto")
		case "flag":
			need("imap4flags")
		}
	}
	v := fs.Vacation
	if v.On {
		need("vacation")
		if v.Start != "" || v.End != "" {
			// currentdate is RFC 5260 §5; "ge"/"le" are RFC 5231's.
			need("date")
			need("relational")
		}
	}
	if len(req) > 0 {
		q := make([]string, len(req))
		for i, e := range req {
			q[i] = quote(e)
		}
		b.WriteString("require [" + strings.Join(q, ", ") + "];\n")
	}
	if v.On {
		var tests []string
		if v.Start != "" {
			tests = append(tests, `currentdate :value "ge" "date" `+quote(v.Start))
		}
		if v.End != "" {
			tests = append(tests, `currentdate :value "le" "date" `+quote(v.End))
		}
		// RFC 5230 §4: :days, :subject, :from.
		act := fmt.Sprintf("vacation :days %d", v.Days)
		if v.Subject != "" {
			act += " :subject " + quote(v.Subject)
		}
		act += " :from " + quote(address) + " " + quote(v.Text) + ";"
		if len(tests) > 0 {
			b.WriteString("if allof (" + strings.Join(tests, ", ") + ") {\n  " + act + "\n}\n")
		} else {
			b.WriteString(act + "\n")
		}
	}
	for _, r := range fs.Rules {
		b.WriteString("if header :contains " + quote(ruleFields[r.Field]) + " " + quote(r.Contains) + " {\n")
		switch r.Action {
		case "move":
			b.WriteString("  fileinto " + quote(r.Folder) + ";\n  stop;\n")
		case "flag":
			b.WriteString("  addflag \"\\\\Flagged\";\n")
		case "discard":
			b.WriteString("  discard;\n  stop;\n")
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// readGenerated returns the settings a generated script was made of; ok
// is false when text is not exactly what generate makes of them (it was
// edited by hand, or made elsewhere).
func readGenerated(text []byte, address string) (fs filterSettings, ok bool) {
	for line := range bytes.Lines(text) {
		rest, found := bytes.CutPrefix(line, []byte(settingsMarker))
		if !found {
			continue
		}
		if err := json.Unmarshal(bytes.TrimSuffix(rest, []byte("\n")), &fs); err != nil {
			return filterSettings{}, false
		}
		return fs, bytes.Equal(generate(fs, address), text)
	}
	return filterSettings{}, false
}

// filterState is the account's active script as the pages see it.
type filterState struct {
	Name     string // the script the text editor saves to
	Text     []byte
	Settings filterSettings
	// Forms says the script is the pages' own, unchanged by hand: the
	// rule and vacation forms may rewrite it.
	Forms bool
}

// filterState loads the account's active script. With none active it is
// the pages' own script, or a new one.
func (s *Server) filterState(ctx context.Context, u *user) (filterState, error) {
	list, err := s.deps.Sieve.SieveScripts(ctx, u.acct.ID)
	if err != nil {
		return filterState{}, err
	}
	for _, sc := range list {
		if !sc.Active {
			continue
		}
		full, err := s.deps.Sieve.SieveScript(ctx, u.acct.ID, sc.Name)
		if err != nil {
			return filterState{}, err
		}
		st := filterState{Name: full.Name, Text: full.Text}
		if full.Name == FilterScript {
			st.Settings, st.Forms = readGenerated(full.Text, u.acct.Address)
		}
		return st, nil
	}
	// An inactive script of the pages' own (turned off with a Sieve
	// client) is what they edit, and activate when saved.
	if full, err := s.deps.Sieve.SieveScript(ctx, u.acct.ID, FilterScript); err == nil {
		st := filterState{Name: FilterScript, Text: full.Text}
		st.Settings, st.Forms = readGenerated(full.Text, u.acct.Address)
		return st, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return filterState{}, err
	}
	fs := filterSettings{Vacation: vacationSettings{Days: defaultVacDays}}
	return filterState{Name: FilterScript, Settings: fs, Forms: true, Text: generate(fs, u.acct.Address)}, nil
}

// saveScript compiles text, stores it as the account's script name and
// makes it the active one. A compile error is a *sieve.Error.
func (s *Server) saveScript(ctx context.Context, u *user, name string, text []byte) error {
	if _, err := sieve.Compile(text, s.cfg.Sieve); err != nil {
		return err
	}
	if err := s.deps.Sieve.PutSieveScript(ctx, u.acct.ID, name, text, s.cfg.SieveLimits); err != nil {
		return fmt.Errorf("webmail: storing script %s: %w", name, err)
	}
	if err := s.deps.Sieve.SetActiveSieveScript(ctx, u.acct.ID, name); err != nil {
		return fmt.Errorf("webmail: activating script %s: %w", name, err)
	}
	return nil
}
