package source

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Schemes of the remote names Open understands.
const (
	schemeHTTP  = "http"
	schemeHTTPS = "https"
	schemeFTP   = "ftp"
	schemeSSH   = "ssh"
)

// IsRemote reports whether name is a URL that Open fetches over the
// network (http, https, ftp or ssh) rather than a local path.
func IsRemote(name string) bool {
	scheme, _, ok := strings.Cut(name, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case schemeHTTP, schemeHTTPS, schemeFTP, schemeSSH:
		return true
	}
	return false
}

// remote is a parsed remote name.
type remote struct {
	scheme string
	user   string // "" if none
	pass   string
	hasPwd bool
	host   string // host[:port] for http and ftp; host for ssh
	port   string // ssh only
	// path is the file's path: the URL's path (escaped, as sent) for
	// http and ftp (unescaped for ftp), the remote path for ssh.
	path string
	// url is the http(s) or ftp URL without its userinfo; nil for ssh.
	url *url.URL
}

// parseRemote parses a remote name. ssh names take bmaptool's form
// ssh://[user@]host:PATH, where PATH is absolute (host:/srv/img) or
// relative to the remote home (host:img), or the URL form
// ssh://[user@]host[:port]/PATH.
func parseRemote(name string) (*remote, error) {
	scheme, rest, _ := strings.Cut(name, "://")
	scheme = strings.ToLower(scheme)
	if scheme == schemeSSH {
		return parseSSH(rest)
	}
	u, err := url.Parse(name)
	if err != nil {
		// url.Error quotes the name, with its secrets: say less.
		return nil, fmt.Errorf("%s is not a valid URL", Redact(name))
	}
	r := &remote{scheme: scheme, host: u.Host}
	if u.Host == "" {
		return nil, fmt.Errorf("%s has no host", Redact(name))
	}
	if u.User != nil {
		r.user = u.User.Username()
		r.pass, r.hasPwd = u.User.Password()
	}
	clean := *u
	clean.User = nil
	clean.Scheme = scheme
	clean.Fragment, clean.RawFragment = "", ""
	r.url = &clean
	r.path = u.Path
	return r, nil
}

func parseSSH(rest string) (*remote, error) {
	r := &remote{scheme: schemeSSH}
	auth, p, hasSlash := strings.Cut(rest, "/")
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		r.user, r.pass, r.hasPwd = strings.Cut(auth[:i], ":")
		auth = auth[i+1:]
	}
	host, after, hasColon := strings.Cut(auth, ":")
	switch {
	case !hasColon:
		if !hasSlash {
			return nil, fmt.Errorf("ssh URL %s has no path: want ssh://[user@]host:/path/to/image", Redact("ssh://"+rest))
		}
		r.path = "/" + p
	case after == "" && hasSlash: // bmaptool's host:/path
		r.path = "/" + p
	case isDigits(after) && hasSlash: // host:port/path
		r.port, r.path = after, "/"+p
	default: // host:relative/path, scp style
		r.path = after
		if hasSlash {
			r.path += "/" + p
		}
	}
	r.host = host
	if host == "" || r.path == "" || r.path == "/" {
		return nil, fmt.Errorf("ssh URL %s needs a host and a file: want ssh://[user@]host:/path/to/image", Redact("ssh://"+rest))
	}
	return r, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// withPath returns name with its file path (not its host, query or
// fragment) changed by f. Local paths are changed whole.
func withPath(name string, f func(string) string) string {
	if !IsRemote(name) {
		return f(name)
	}
	scheme, rest, _ := strings.Cut(name, "://")
	if strings.EqualFold(scheme, schemeSSH) {
		// The path is everything after the host part; ssh names have
		// no query.
		i := strings.Index(rest, "/")
		if j := strings.Index(rest, ":"); j >= 0 && (i < 0 || j < i) && !isDigits(portPart(rest[j+1:])) {
			i = j + 1
		}
		if i < 0 {
			return name
		}
		return scheme + "://" + rest[:i] + f(rest[i:])
	}
	// http, https, ftp: the path runs from the first "/" after the host
	// to the first "?" or "#".
	i := strings.Index(rest, "/")
	if i < 0 {
		return name
	}
	p := rest[i:]
	tail := ""
	if j := strings.IndexAny(p, "?#"); j >= 0 {
		p, tail = p[:j], p[j:]
	}
	return scheme + "://" + rest[:i] + f(p) + tail
}

// portPart returns what could be a port after "host:": the text up to
// the first "/".
func portPart(s string) string {
	p, _, _ := strings.Cut(s, "/")
	return p
}

// PathOf returns the file path within name: name itself for a local path,
// the URL's path without its query for a URL. Formats are recognized by
// this path's suffix when the content does not tell.
func PathOf(name string) string {
	if !IsRemote(name) {
		return name
	}
	r, err := parseRemote(name)
	if err != nil {
		return ""
	}
	if r.url != nil {
		if p, err := url.PathUnescape(r.path); err == nil {
			return p
		}
	}
	return r.path
}

// publicQueryKeys are query parameters whose values are shown in
// messages: they name things (GitLab's ?job=), they are not credentials.
// Every other parameter's value is replaced by "***", since presigned
// URLs (S3's X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token;
// CloudFront's Signature, Policy, Key-Pair-Id; Azure's sig), GitLab's
// private_token and many more carry secrets there.
var publicQueryKeys = map[string]bool{
	"job": true, "ref": true, "ref_type": true, "file": true, "path": true, "name": true,
	"version": true, "arch": true, "format": true, "inline": true, "download": true, "raw": true,
}

// Redact returns name as it may be shown: for a URL, its user name and
// password become "***", and so does every query value that may be a
// secret (see publicQueryKeys). Local paths are returned unchanged.
func Redact(name string) string {
	if !IsRemote(name) {
		return name
	}
	scheme, rest, _ := strings.Cut(name, "://")
	// userinfo: everything before the last "@" of the authority.
	authEnd := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authEnd = i
	}
	if strings.EqualFold(scheme, schemeSSH) {
		// ssh: host:path; the authority ends at the last "@" before
		// the first "/" or ":" after it.
		authEnd = len(rest)
		if i := strings.Index(rest, "/"); i >= 0 {
			authEnd = i
		}
	}
	auth, tail := rest[:authEnd], rest[authEnd:]
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		auth = "***@" + auth[i+1:]
	}
	out := scheme + "://" + auth
	frag := ""
	if i := strings.Index(tail, "#"); i >= 0 {
		tail, frag = tail[:i], tail[i:]
	}
	p, query, hasQuery := strings.Cut(tail, "?")
	out += p
	if hasQuery {
		params := strings.Split(query, "&")
		for i, kv := range params {
			k, _, hasValue := strings.Cut(kv, "=")
			key, err := url.QueryUnescape(k)
			if err != nil {
				key = k
			}
			if hasValue && !publicQueryKeys[strings.ToLower(key)] {
				params[i] = k + "=***"
			}
		}
		out += "?" + strings.Join(params, "&")
	}
	return out + frag
}

// Secrets returns the strings within name that must never be shown: its
// password, its user name (as "user@" and "user:"), the values of its
// secret query parameters (see Redact), and the HTTP basic credentials
// made of them. A program that prints text from libraries it does not
// control can remove these from every line as a last guard.
func Secrets(name string) []string {
	if !IsRemote(name) {
		return nil
	}
	r, err := parseRemote(name)
	if err != nil {
		return nil
	}
	var out []string
	if r.user != "" {
		out = append(out, r.user+"@", r.user+":", url.UserPassword(r.user, r.pass).String()+"@")
		if esc := url.User(r.user).String(); esc != r.user {
			out = append(out, esc+"@", esc+":")
		}
	}
	if r.hasPwd && r.pass != "" {
		out = append(out, r.pass, url.QueryEscape(r.pass), basicToken(r.user, r.pass))
	}
	if r.url != nil {
		for _, kv := range strings.Split(r.url.RawQuery, "&") {
			k, v, ok := strings.Cut(kv, "=")
			key, _ := url.QueryUnescape(k)
			if !ok || v == "" || publicQueryKeys[strings.ToLower(key)] {
				continue
			}
			out = append(out, v)
			if uv, err := url.QueryUnescape(v); err == nil && uv != v {
				out = append(out, uv)
			}
		}
	}
	return out
}

func basicToken(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// splitExt returns p without its last extension, and the extension, as
// Python's os.path.splitext does (a leading dot does not start one).
func splitExt(p string) (string, string) {
	ext := path.Ext(p)
	if ext == "" || ext == p || strings.HasSuffix(p, "/"+ext) {
		return p, ""
	}
	return strings.TrimSuffix(p, ext), ext
}
