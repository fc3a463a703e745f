package imapwire

import (
	"strings"
	"time"
)

func (r *Reader) twoDigits() (int, bool) {
	if r.pos+2 > len(r.line) {
		return 0, false
	}
	a, b := r.line[r.pos], r.line[r.pos+1]
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	r.pos += 2
	return int(a-'0')*10 + int(b-'0'), true
}

// monthYear reads "-" date-month "-" date-year.
func (r *Reader) monthYear() (time.Month, int, error) {
	if r.peek() != '-' || r.pos+5 > len(r.line) || r.line[r.pos+4] != '-' {
		return 0, 0, syntaxErr("bad date")
	}
	m := strings.ToUpper(string(r.line[r.pos+1 : r.pos+4]))
	month := time.Month(0)
	for i, name := range [12]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"} {
		if name == m {
			month = time.Month(i + 1)
		}
	}
	if month == 0 {
		return 0, 0, syntaxErr("bad month")
	}
	r.pos += 5
	hi, ok1 := r.twoDigits()
	lo, ok2 := r.twoDigits()
	if !ok1 || !ok2 {
		return 0, 0, syntaxErr("bad year")
	}
	return month, hi*100 + lo, nil
}

// date reads RFC 9051 §9 date = date-text / DQUOTE date-text DQUOTE;
// date-text = date-day "-" date-month "-" date-year, date-day = 1*2DIGIT.
// The date is midnight UTC (SEARCH compares dates without zones, §6.4.4).
func (r *Reader) date() (time.Time, error) {
	q := r.peek() == '"'
	if q {
		r.pos++
	}
	day := 0
	n := 0
	for n < 2 && r.pos < len(r.line) && r.line[r.pos] >= '0' && r.line[r.pos] <= '9' {
		day = day*10 + int(r.line[r.pos]-'0')
		r.pos++
		n++
	}
	if n == 0 {
		return time.Time{}, syntaxErr("bad date")
	}
	month, year, err := r.monthYear()
	if err != nil {
		return time.Time{}, err
	}
	if q {
		if err := r.expect('"'); err != nil {
			return time.Time{}, err
		}
	}
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, syntaxErr("no such day")
	}
	return t, nil
}

// dateTime reads RFC 9051 §9 date-time = DQUOTE date-day-fixed "-"
// date-month "-" date-year SP time SP zone DQUOTE.
func (r *Reader) dateTime() (time.Time, error) {
	if err := r.expect('"'); err != nil {
		return time.Time{}, err
	}
	var day int
	if r.peek() == ' ' {
		r.pos++
		if r.pos >= len(r.line) || r.line[r.pos] < '0' || r.line[r.pos] > '9' {
			return time.Time{}, syntaxErr("bad date-time")
		}
		day = int(r.line[r.pos] - '0')
		r.pos++
	} else {
		var ok bool
		if day, ok = r.twoDigits(); !ok {
			return time.Time{}, syntaxErr("bad date-time")
		}
	}
	month, year, err := r.monthYear()
	if err != nil {
		return time.Time{}, err
	}
	if err := r.sp(); err != nil {
		return time.Time{}, err
	}
	var hms [3]int
	for i := range hms {
		if i > 0 {
			if err := r.expect(':'); err != nil {
				return time.Time{}, err
			}
		}
		v, ok := r.twoDigits()
		if !ok {
			return time.Time{}, syntaxErr("bad time")
		}
		hms[i] = v
	}
	if err := r.sp(); err != nil {
		return time.Time{}, err
	}
	sign := r.peek()
	if sign != '+' && sign != '-' {
		return time.Time{}, syntaxErr("bad zone")
	}
	r.pos++
	zh, ok1 := r.twoDigits()
	zm, ok2 := r.twoDigits()
	if !ok1 || !ok2 || zm > 59 {
		return time.Time{}, syntaxErr("bad zone")
	}
	if err := r.expect('"'); err != nil {
		return time.Time{}, err
	}
	if hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
		return time.Time{}, syntaxErr("bad time")
	}
	off := (zh*60 + zm) * 60
	if sign == '-' {
		off = -off
	}
	t := time.Date(year, month, day, hms[0], hms[1], hms[2], 0, time.FixedZone("", off))
	if t.Day() != day {
		return time.Time{}, syntaxErr("no such day")
	}
	return t, nil
}

// DateTimeLayout is the Go layout of RFC 9051 date-time (without quotes).
const DateTimeLayout = "_2-Jan-2006 15:04:05 -0700"

// DateLayout is the Go layout of RFC 9051 date-text.
const DateLayout = "2-Jan-2006"
