package imapd

// matchList reports whether name matches a LIST pattern with its
// reference (RFC 9051 §6.3.9: "*" matches anything, "%" anything but the
// hierarchy delimiter).
func matchList(name, ref, pattern string) bool {
	return match(name, ref+pattern)
}

func match(name, pattern string) bool {
	// next[i]: pattern[j+1:] matches name[i:]; cur the same for pattern[j:]
	// (dynamic programming, so that no pattern costs more than
	// len(name)*len(pattern)).
	n := len(name)
	next := make([]bool, n+1)
	cur := make([]bool, n+1)
	next[n] = true
	for j := len(pattern) - 1; j >= 0; j-- {
		c := pattern[j]
		for i := n; i >= 0; i-- {
			switch c {
			case '*':
				cur[i] = next[i] || (i < n && cur[i+1])
			case '%':
				cur[i] = next[i] || (i < n && name[i] != delim && cur[i+1])
			default:
				cur[i] = i < n && name[i] == c && next[i+1]
			}
		}
		next, cur = cur, next
	}
	return next[0]
}
