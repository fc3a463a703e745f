package config

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// unknownKeys returns an error naming every key of the file that is not
// one of cfg's keys spelt exactly, with its line where it can be found.
// BurntSushi/toml decodes a key into a struct field whose tag matches it
// case-insensitively ("[Listen]" fills Listen) and then reports it
// neither undecoded nor defined under its right name; pail's keys are
// case-sensitive, so every key the file defines is checked here against
// the toml tags, at every depth.
func unknownKeys(md toml.MetaData, text string, cfg any) error {
	var bad []string
	var seen []toml.Key
	for _, k := range md.Keys() {
		n, want := matchKey(reflect.TypeOf(cfg), k)
		if n < 0 {
			continue
		}
		key := k[:n+1]
		if slices.ContainsFunc(seen, func(s toml.Key) bool { return slices.Equal(s, key) }) {
			continue // a table's keys are not reported again under it
		}
		seen = append(seen, key)
		msg := fmt.Sprintf("unknown key %q", key.String())
		if line := keyLine(text, key); line > 0 {
			msg += fmt.Sprintf(" at line %d", line)
		}
		if want != "" {
			msg += fmt.Sprintf(" (keys are case-sensitive: %q)", want)
		}
		bad = append(bad, msg)
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(bad, "; "))
}

// matchKey walks key down type t by exact toml tags. It returns -1 when
// every part of key names a field, else the index of the first part that
// names none, with the tag it matches but for case ("" if none).
func matchKey(t reflect.Type, key toml.Key) (int, string) {
	for i, part := range key {
		// Arrays (of tables, or of inline tables) add no part to a key.
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if pt := reflect.PointerTo(t); pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) ||
			pt.Implements(reflect.TypeFor[toml.Unmarshaler]()) {
			return -1, "" // a value decoded as a whole: the decoder checks it
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem() // any key names an entry
			continue
		case reflect.Struct:
		default:
			return -1, "" // a plain value: the decoder checks its type
		}
		f, fold, ok := field(t, part)
		if !ok {
			return i, fold
		}
		t = f.Type
	}
	return -1, ""
}

// field returns the field of struct type t whose toml name is exactly
// name; when there is none, the toml name that equals name but for case.
func field(t reflect.Type, name string) (reflect.StructField, string, bool) {
	fold := ""
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, "", true
		}
		if strings.EqualFold(tag, name) {
			fold = tag
		}
	}
	return reflect.StructField{}, fold, false
}

// keyLine finds the line (from 1) where key is defined in text: the first
// table header or key line whose full dotted name is key or under it;
// else the first line whose name leads to key (an inline table) and that
// holds key's last part; 0 when neither is found. It reads headers and
// "k = v" lines only, enough to point an operator at the line.
func keyLine(text string, key toml.Key) int {
	var table []string
	best, bestLen := 0, 0
	for i, line := range strings.Split(text, "\n") {
		s := strings.TrimSpace(line)
		var path []string
		switch {
		case strings.HasPrefix(s, "["):
			inner := strings.Trim(strings.SplitN(s, "]", 2)[0], "[ \t")
			if strings.HasPrefix(s, "[[") {
				inner = strings.Trim(strings.SplitN(s, "]]", 2)[0], "[ \t")
			}
			table = splitKey(inner)
			path = table
		case s != "" && !strings.HasPrefix(s, "#") && strings.Contains(s, "="):
			name, _, _ := strings.Cut(s, "=")
			path = append(slices.Clone(table), splitKey(name)...)
		default:
			continue
		}
		switch {
		case len(path) >= len(key) && slices.Equal(path[:len(key)], key):
			return i + 1 // key, or a dotted key or header under it
		case len(path) > bestLen && len(path) < len(key) && slices.Equal(path, key[:len(path)]) &&
			strings.Contains(s, key[len(key)-1]):
			best, bestLen = i+1, len(path)
		}
	}
	return best
}

// splitKey splits a TOML dotted key into its parts, unquoting them.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}
