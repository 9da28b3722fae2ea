// Package suggest finds the known names closest to a name that was not
// found, for errors that say what the user may have meant.
package suggest

import (
	"sort"
	"strings"
)

// Closest returns up to n names from known that are close to name: equal
// ignoring case, sharing a prefix of three or more letters, containing it,
// or within an edit distance of a third of its length (at least 2). The
// closest come first; ties keep known's order.
func Closest(name string, known []string, n int) []string {
	type cand struct {
		name string
		dist int
		i    int
	}
	lname := strings.ToLower(name)
	limit := max(2, len(name)/3)
	var cs []cand
	for i, k := range known {
		lk := strings.ToLower(k)
		d := Distance(lname, lk)
		switch {
		case lk == lname:
			d = 0
		case strings.Contains(lk, lname) || strings.Contains(lname, lk) && len(lk) >= 3:
			d = min(d, 1)
		case len(lname) >= 3 && strings.HasPrefix(lk, lname[:3]):
			d = min(d, limit)
		}
		if d <= limit {
			cs = append(cs, cand{k, d, i})
		}
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].dist < cs[b].dist })
	out := make([]string, 0, min(n, len(cs)))
	for _, c := range cs {
		if len(out) == n {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// Distance is the Levenshtein distance of a and b, in bytes; names longer
// than 256 bytes are compared by their first 256. It does not block.
func Distance(a, b string) int {
	const maxLen = 256
	a, b = a[:min(len(a), maxLen)], b[:min(len(b), maxLen)]
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
