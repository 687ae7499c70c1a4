package source

import (
	"strings"
	"testing"
)

// FuzzRedact: Redact never panics, leaves local paths alone, and hides
// the user information of a URL that has a password.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"https://u:p@h/a.img?job=x&sig=y#f", "ssh://me:pw@h:/srv/a", "ftp://h/a", "/x", "http://[::1]:80/a?%zz=1", "https://a@b@c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := Redact(name)
		if !IsRemote(name) {
			if got != name {
				t.Fatalf("Redact(%q) = %q: a local path changed", name, got)
			}
			return
		}
		BmapCandidates(name)
		PathOf(name)
		r, err := parseRemote(name)
		if err != nil || !r.hasPwd {
			return
		}
		if !strings.Contains(got, "***@") || strings.Contains(got, r.user+":"+r.pass+"@") {
			t.Fatalf("Redact(%q) = %q: the user information shows", name, got)
		}
	})
}

// FuzzParseNetrc: any text parses without panicking.
func FuzzParseNetrc(f *testing.F) {
	f.Add("machine h login u password p\ndefault login a password b\nmacdef x\n a\n\n", "h")
	f.Fuzz(func(t *testing.T, text, host string) {
		parseNetrc(text, host)
	})
}

// FuzzContentRange: what parses is a consistent range.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1", "bytes */5", "bytes 3-9/*", "bytes 1-0/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, err := parseContentRange(s)
		if err != nil {
			return
		}
		if first == -1 && last == -1 {
			return
		}
		if first < 0 || last < first || total >= 0 && last >= total {
			t.Fatalf("parseContentRange(%q) = %d, %d, %d", s, first, last, total)
		}
	})
}
