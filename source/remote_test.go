package source

import (
	"reflect"
	"strings"
	"testing"
)

func TestBmapCandidatesURL(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  []string
	}{
		{"https://h/d/a.img.gz", []string{"https://h/d/a.img.gz.bmap", "https://h/d/a.img.bmap", "https://h/d/a.bmap"}},
		// GitLab artifacts and presigned URLs: the query stays.
		{"https://u:p@gitlab/api/a.wic.xz?job=build&X-Amz-Signature=s", []string{
			"https://u:p@gitlab/api/a.wic.xz.bmap?job=build&X-Amz-Signature=s",
			"https://u:p@gitlab/api/a.wic.bmap?job=build&X-Amz-Signature=s",
			"https://u:p@gitlab/api/a.bmap?job=build&X-Amz-Signature=s"}},
		{"http://h.example:8080/img", []string{"http://h.example:8080/img.bmap"}},
		{"http://h.example/dir.d/img#frag", []string{"http://h.example/dir.d/img.bmap#frag"}},
		{"ftp://h/pub/x.raw", []string{"ftp://h/pub/x.raw.bmap", "ftp://h/pub/x.bmap"}},
		{"ssh://me@h:/srv/a.img", []string{"ssh://me@h:/srv/a.img.bmap", "ssh://me@h:/srv/a.bmap"}},
		{"ssh://me@h:a.img", []string{"ssh://me@h:a.img.bmap", "ssh://me@h:a.bmap"}},
		{"ssh://me@h:2222/srv/a.img", []string{"ssh://me@h:2222/srv/a.img.bmap", "ssh://me@h:2222/srv/a.bmap"}},
	} {
		if got := BmapCandidates(tc.image); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("BmapCandidates(%q) =\n%q, want\n%q", tc.image, got, tc.want)
		}
	}
	if got, want := Sibling("https://h/a.bmap?job=x", ".asc"), "https://h/a.bmap.asc?job=x"; got != want {
		t.Errorf("Sibling = %q, want %q", got, want)
	}
}

func TestPathOfAndBase(t *testing.T) {
	for name, want := range map[string]string{
		"https://h/d/a%20b.img.xz?job=x": "/d/a b.img.xz",
		"ssh://me@h:/srv/a.img.gz":       "/srv/a.img.gz",
		"ssh://h:2222/srv/a.img":         "/srv/a.img",
		"ssh://h:rel/a.img":              "rel/a.img",
		"local/x.img.gz":                 "local/x.img.gz",
	} {
		if got := PathOf(name); got != want {
			t.Errorf("PathOf(%q) = %q, want %q", name, got, want)
		}
	}
	if got := Base("https://h/d/a.wic.xz?X-Amz-Signature=secret"); got != "a.wic.xz" {
		t.Errorf("Base = %q", got)
	}
}

func TestRedact(t *testing.T) {
	for name, want := range map[string]string{
		"https://user:hunter2@h/a.img?job=build&private_token=tok123": "https://***@h/a.img?job=build&private_token=***",
		"https://h/a.img?X-Amz-Signature=abc&X-Amz-Credential=AK%2F1": "https://h/a.img?X-Amz-Signature=***&X-Amz-Credential=***",
		"https://h/a.img":                    "https://h/a.img",
		"ftp://anon@h/pub/a":                 "ftp://***@h/pub/a",
		"ssh://me:pw@h:/srv/a":               "ssh://***@h:/srv/a",
		"/local/path?x=1":                    "/local/path?x=1",
		"http://h/a?flag&sig=s#frag":         "http://h/a?flag&sig=***#frag",
		"https://u:p%40ss@h:8443/a?job=%3Cx": "https://***@h:8443/a?job=%3Cx",
	} {
		if got := Redact(name); got != want {
			t.Errorf("Redact(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestSecrets(t *testing.T) {
	got := strings.Join(Secrets("https://alice:s3cret@h/a?job=j&token=t%2Bk"), " ")
	for _, want := range []string{"alice@", "alice:", "s3cret", "t%2Bk", "t+k", basicToken("alice", "s3cret")} {
		if !strings.Contains(got, want) {
			t.Errorf("Secrets lacks %q: %q", want, got)
		}
	}
	if strings.Contains(got, "j ") || strings.HasSuffix(got, " j") {
		t.Errorf("Secrets lists the public job value: %q", got)
	}
	if Secrets("/local") != nil {
		t.Error("a local path has secrets")
	}
}

func TestParseSSH(t *testing.T) {
	for name, want := range map[string]remote{
		"ssh://me@h:/srv/a":     {scheme: "ssh", user: "me", host: "h", path: "/srv/a"},
		"ssh://h/srv/a":         {scheme: "ssh", host: "h", path: "/srv/a"},
		"ssh://me@h:2222/srv/a": {scheme: "ssh", user: "me", host: "h", port: "2222", path: "/srv/a"},
		"ssh://me@h:a/b":        {scheme: "ssh", user: "me", host: "h", path: "a/b"},
	} {
		got, err := parseRemote(name)
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("parseRemote(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
	for _, bad := range []string{"ssh://h", "ssh://h:", "ssh://:/x"} {
		if _, err := parseRemote(bad); err == nil {
			t.Errorf("parseRemote(%q) succeeded", bad)
		}
	}
}

func TestParseNetrc(t *testing.T) {
	const text = `# comment
machine other login o password op
machine h.example
  login alice
  password s3cret
macdef init
  cd /pub
  ls

default login anonymous password guest
`
	if l, p, ok := parseNetrc(text, "h.example"); !ok || l != "alice" || p != "s3cret" {
		t.Errorf("h.example: %q %q %v", l, p, ok)
	}
	if l, p, ok := parseNetrc(text, "elsewhere"); !ok || l != "anonymous" || p != "guest" {
		t.Errorf("default: %q %q %v", l, p, ok)
	}
	if _, _, ok := parseNetrc("machine a login x password y", "b"); ok {
		t.Error("no entry for b, but found one")
	}
}

func TestParseContentRange(t *testing.T) {
	for s, want := range map[string][3]int64{
		"bytes 0-0/10":  {0, 0, 10},
		"bytes 5-9/*":   {5, 9, -1},
		"bytes */7":     {-1, -1, 7},
		"bytes 1-20/10": {0, 0, -2},
		"bytes 9-1/10":  {0, 0, -2},
		"octets 0-1/2":  {0, 0, -2},
		"bytes x-1/2":   {0, 0, -2},
		"bytes 0-1/-5":  {0, 0, -2},
	} {
		a, b, c, err := parseContentRange(s)
		if want[2] == -2 {
			if err == nil {
				t.Errorf("parseContentRange(%q) = %d %d %d, want an error", s, a, b, c)
			}
			continue
		}
		if err != nil || [3]int64{a, b, c} != want {
			t.Errorf("parseContentRange(%q) = %d %d %d %v, want %v", s, a, b, c, err, want)
		}
	}
}

func TestPlanPieces(t *testing.T) {
	// Two extents 4 KiB apart merge (the gap is within 1% of 1 MiB);
	// one 1 MiB away does not; a long extent is cut into pieces.
	ext := []Extent{{0, 512 << 10}, {516 << 10, 512 << 10}, {3 << 20, 100}, {8 << 20, 9 << 20}}
	got := planPieces(ext, 0, 32<<20, 4<<20)
	want := []piece{{off: 0, end: 1028 << 10}, {off: 3 << 20, end: 3<<20 + 100},
		{off: 8 << 20, end: 12 << 20}, {off: 12 << 20, end: 16 << 20}, {off: 16 << 20, end: 17 << 20}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("planPieces =\n%+v, want\n%+v", got, want)
	}
	// Clipped to the reader's offset and the size.
	got = planPieces([]Extent{{0, 100}, {200, 100}}, 250, 280, 4<<20)
	if !reflect.DeepEqual(got, []piece{{off: 250, end: 280}}) {
		t.Errorf("clipped plan = %+v", got)
	}
}
