package webmail

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"pail/internal/sieve"
	"pail/internal/store"
)

// Filters and Vacation page texts.
const (
	msgFiltersHand = "Your filter script was written by hand (or with a Sieve client), so it is shown as text only and kept as you wrote it. " +
		"“Start over” replaces the active script with one made from the forms."
	msgFiltersSaved  = "Your filters are saved and in use."
	msgVacationSaved = "Your vacation answer is saved."
	msgFiltersQuota  = "The script is larger than this server allows, or you have too many scripts."
)

// filtersPage is the data of the Filters page.
type filtersPage struct {
	base
	Script   string // the text area
	Name     string
	Forms    bool
	Rules    []filterRule
	Notice   string
	Error    string
	ErrLine  string // the line of a compile error, and a caret under its column
	ErrCaret string
}

// vacationPage is the data of the Vacation page.
type vacationPage struct {
	base
	Forms    bool
	Vacation vacationSettings
	Notice   string
	Error    string
}

func (s *Server) filtersPage(r *http.Request, u *user, st filterState) filtersPage {
	return filtersPage{base: s.base(r, u, "Filters", 0), Script: string(st.Text), Name: st.Name, Forms: st.Forms, Rules: st.Settings.Rules}
}

func (s *Server) handleFilters(w http.ResponseWriter, r *http.Request, u *user) {
	st, err := s.filterState(r.Context(), u)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	p := s.filtersPage(r, u, st)
	if r.URL.Query().Get("done") == "1" {
		p.Notice = msgFiltersSaved
	}
	if !st.Forms {
		p.Notice = msgFiltersHand
	}
	s.render(w, http.StatusOK, "filters", p)
}

// handleFiltersScript saves the text area as the active script (under
// its own name) when it compiles; a compile error is shown with its line
// and column and the text as typed.
func (s *Server) handleFiltersScript(w http.ResponseWriter, r *http.Request, u *user) {
	st, err := s.filterState(r.Context(), u)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	text := strings.ReplaceAll(r.PostFormValue("script"), "\r\n", "\n")
	err = s.saveScript(r.Context(), u, st.Name, []byte(text))
	var cerr *sieve.Error
	switch {
	case errors.As(err, &cerr):
		st.Text = []byte(text)
		st.Settings, st.Forms = readGenerated(st.Text, u.acct.Address)
		p := s.filtersPage(r, u, st)
		p.Error = cerr.Error()
		p.ErrLine, p.ErrCaret = errorLine(text, cerr.Pos)
		s.render(w, http.StatusBadRequest, "filters", p)
		return
	case errors.Is(err, store.ErrSieveQuota):
		p := s.filtersPage(r, u, st)
		p.Script, p.Error = text, msgFiltersQuota
		s.render(w, http.StatusBadRequest, "filters", p)
		return
	case err != nil:
		s.internal(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/filters?done=1", http.StatusSeeOther)
}

// errorLine returns line pos.Line of text and a caret under column
// pos.Col (counted in characters), to show a compile error in place.
func errorLine(text string, pos sieve.Pos) (line, caret string) {
	lines := strings.Split(text, "\n")
	if pos.Line < 1 || pos.Line > len(lines) {
		return "", ""
	}
	line = lines[pos.Line-1]
	col := max(pos.Col, 1)
	var b strings.Builder
	i := 1
	for _, c := range line {
		if i >= col {
			break
		}
		if c == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		i++
	}
	for ; i < col; i++ {
		b.WriteByte(' ')
	}
	b.WriteByte('^')
	return line, b.String()
}

// handleFiltersRules adds or deletes a form rule (op=add, op=delete with
// index) or starts over (op=reset: the forms' own script, empty, made
// active in place of a hand-written one, which is left stored).
func (s *Server) handleFiltersRules(w http.ResponseWriter, r *http.Request, u *user) {
	st, err := s.filterState(r.Context(), u)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	fs := st.Settings
	switch r.PostFormValue("op") {
	case "reset":
		fs = filterSettings{Vacation: vacationSettings{Days: defaultVacDays}}
	case "add", "delete":
		if !st.Forms {
			p := s.filtersPage(r, u, st)
			p.Error = msgFiltersHand
			s.render(w, http.StatusConflict, "filters", p)
			return
		}
		if r.PostFormValue("op") == "delete" {
			i, err := strconv.Atoi(r.PostFormValue("index"))
			if err != nil || i < 0 || i >= len(fs.Rules) {
				s.fail(w, r, u, http.StatusBadRequest, "There is no such rule.")
				return
			}
			fs.Rules = append(fs.Rules[:i:i], fs.Rules[i+1:]...)
			break
		}
		rule := filterRule{Field: r.PostFormValue("field"), Contains: strings.TrimSpace(r.PostFormValue("contains")), Action: r.PostFormValue("action")}
		if rule.Action == "move" {
			rule.Folder = r.PostFormValue("folder")
		}
		msg := rule.check()
		if msg == "" && len(fs.Rules) >= maxRules {
			msg = "There are as many rules as the form keeps; edit the script instead."
		}
		if msg == "" && rule.Action == "move" && !s.hasFolder(r, u, rule.Folder) {
			msg = "There is no such folder."
		}
		if msg != "" {
			p := s.filtersPage(r, u, st)
			p.Error = msg
			s.render(w, http.StatusBadRequest, "filters", p)
			return
		}
		fs.Rules = append(fs.Rules, rule)
	default:
		s.fail(w, r, u, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !s.saveGenerated(w, r, u, st, fs, "filters") {
		return
	}
	http.Redirect(w, r, "/filters?done=1", http.StatusSeeOther)
}

// saveGenerated stores and activates the forms' script of fs; on a
// failure it has answered and returns false.
func (s *Server) saveGenerated(w http.ResponseWriter, r *http.Request, u *user, st filterState, fs filterSettings, page string) bool {
	err := s.saveScript(r.Context(), u, FilterScript, generate(fs, u.acct.Address))
	if errors.Is(err, store.ErrSieveQuota) {
		p := s.filtersPage(r, u, st)
		p.Error = msgFiltersQuota
		if page == "vacation" {
			s.render(w, http.StatusBadRequest, page, vacationPage{base: p.base, Forms: st.Forms, Vacation: fs.Vacation, Error: msgFiltersQuota})
			return false
		}
		s.render(w, http.StatusBadRequest, page, p)
		return false
	}
	if err != nil {
		// The generator makes only scripts that compile: any error is
		// the server's.
		s.internal(w, r, u, err)
		return false
	}
	return true
}

// hasFolder reports whether the user has a folder of that name.
func (s *Server) hasFolder(r *http.Request, u *user, name string) bool {
	boxes, err := s.deps.Store.Mailboxes(r.Context(), u.acct.ID)
	if err != nil {
		return false
	}
	for _, mb := range boxes {
		if mb.Name == name {
			return true
		}
	}
	return false
}

func (s *Server) handleVacation(w http.ResponseWriter, r *http.Request, u *user) {
	st, err := s.filterState(r.Context(), u)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	p := vacationPage{base: s.base(r, u, "Vacation", 0), Forms: st.Forms, Vacation: st.Settings.Vacation}
	if p.Vacation.Days == 0 {
		p.Vacation.Days = defaultVacDays
	}
	if r.URL.Query().Get("done") == "1" {
		p.Notice = msgVacationSaved
	}
	if !st.Forms {
		p.Error = msgFiltersHand
	}
	s.render(w, http.StatusOK, "vacation", p)
}

// handleVacationPost saves the vacation form into the forms' script,
// keeping its rules. A hand-written active script is not touched.
func (s *Server) handleVacationPost(w http.ResponseWriter, r *http.Request, u *user) {
	st, err := s.filterState(r.Context(), u)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil {
		days = 0
	}
	v := vacationSettings{
		On:      r.PostFormValue("on") == "1",
		Start:   r.PostFormValue("start"),
		End:     r.PostFormValue("end"),
		Days:    days,
		Subject: strings.TrimSpace(r.PostFormValue("subject")),
		Text:    strings.ReplaceAll(r.PostFormValue("text"), "\r\n", "\n"),
	}
	p := vacationPage{base: s.base(r, u, "Vacation", 0), Forms: st.Forms, Vacation: v}
	if !st.Forms {
		p.Error = msgFiltersHand
		s.render(w, http.StatusConflict, "vacation", p)
		return
	}
	if msg := v.check(); msg != "" {
		p.Error = msg
		s.render(w, http.StatusBadRequest, "vacation", p)
		return
	}
	fs := st.Settings
	fs.Vacation = v
	if !s.saveGenerated(w, r, u, st, fs, "vacation") {
		return
	}
	http.Redirect(w, r, "/vacation?done=1", http.StatusSeeOther)
}
