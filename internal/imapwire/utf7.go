package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 §5.1.3): printable US-ASCII but "&" stands for
// itself, "&" is "&-", anything else is "&" + modified BASE64 of UTF-16BE
// ("," for "/", no padding) + "-".

const mbase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// errUTF7 is the cause of every modified UTF-7 decoding error.
var errUTF7 = errors.New("invalid modified UTF-7")

func mbase64Val(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == ',':
		return 63
	}
	return -1
}

// DecodeUTF7 decodes a modified UTF-7 mailbox name to UTF-8. It refuses
// what RFC 3501 §5.1.3 rules out: 8-bit or control bytes, an unterminated
// shift, a shift that encodes a printable ASCII character or nothing,
// non-zero padding bits, broken UTF-16 surrogates, NUL, and any
// spelling but the one EncodeUTF7 gives (adjacent shifts).
func DecodeUTF7(s string) (string, error) {
	if !strings.ContainsAny(s, "&") {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return "", errUTF7
			}
		}
		return s, nil
	}
	var out strings.Builder
	out.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", errUTF7
		}
		if c != '&' {
			out.WriteByte(c)
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", errUTF7
		}
		b64 := s[i+1 : i+1+j]
		i += j + 1
		if len(b64) == 0 {
			out.WriteByte('&')
			continue
		}
		if err := decodeShift(&out, b64); err != nil {
			return "", err
		}
	}
	d := out.String()
	// RFC 3501 §5.1.3 allows one spelling of each name; a client that
	// spells it another way ("&AOk-&AOk-" for "&AOkA6Q-") would create a
	// second mailbox with the same name.
	if EncodeUTF7(d) != s {
		return "", errUTF7
	}
	return d, nil
}

// decodeShift decodes the modified BASE64 between "&" and "-".
func decodeShift(out *strings.Builder, b64 string) error {
	var bits, nbits uint32
	var units []uint16
	var small [16]uint16
	units = small[:0]
	for k := 0; k < len(b64); k++ {
		v := mbase64Val(b64[k])
		if v < 0 {
			return errUTF7
		}
		bits = bits<<6 | uint32(v)
		nbits += 6
		if nbits >= 16 {
			nbits -= 16
			units = append(units, uint16(bits>>nbits))
			bits &= 1<<nbits - 1
		}
	}
	// Left-over bits are padding: fewer than 6 of them and all zero.
	if nbits >= 6 || bits != 0 || len(units) == 0 {
		return errUTF7
	}
	for k := 0; k < len(units); k++ {
		u := rune(units[k])
		switch {
		case utf16.IsSurrogate(u):
			if u >= 0xdc00 || k+1 >= len(units) {
				return errUTF7
			}
			r := utf16.DecodeRune(u, rune(units[k+1]))
			if r == utf8.RuneError {
				return errUTF7
			}
			k++
			out.WriteRune(r)
		case u == 0:
			return errUTF7 // a NUL is never part of a name
		case u >= 0x20 && u <= 0x7e:
			// RFC 3501 §5.1.3: "MUST NOT be used to represent any printing
			// US-ASCII character which can represent itself".
			return errUTF7
		default:
			out.WriteRune(u)
		}
	}
	return nil
}

// EncodeUTF7 encodes a UTF-8 mailbox name in modified UTF-7. Invalid
// UTF-8 sequences are encoded as U+FFFD.
func EncodeUTF7(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e || s[i] == '&' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c <= 0x7e {
			if c == '&' {
				out.WriteString("&-")
			} else {
				out.WriteByte(c)
			}
			i++
			continue
		}
		// A run of characters that are not printable ASCII.
		j := i
		for j < len(s) && (s[j] < 0x20 || s[j] > 0x7e) {
			_, n := utf8.DecodeRuneInString(s[j:])
			j += n
		}
		out.WriteByte('&')
		var bits, nbits uint32
		for _, r := range s[i:j] {
			for _, u := range utf16.AppendRune(nil, r) {
				bits = bits<<16 | uint32(u)
				nbits += 16
				for nbits >= 6 {
					nbits -= 6
					out.WriteByte(mbase64[(bits>>nbits)&0x3f])
				}
				bits &= 1<<nbits - 1
			}
		}
		if nbits > 0 {
			out.WriteByte(mbase64[(bits<<(6-nbits))&0x3f])
		}
		out.WriteByte('-')
		i = j
	}
	return out.String()
}
