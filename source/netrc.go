package source

import (
	"os"
	"path/filepath"
	"strings"
)

// netrcLogin returns the login and password ~/.netrc (or the file $NETRC
// names) holds for host: its "machine host" entry, else its "default"
// entry. ok is false when there is none, or no file.
//
// The format is curl's and Python's: whitespace-separated tokens
// "machine NAME", "default", "login NAME", "password SECRET", "account
// X", and "macdef NAME" followed by lines up to an empty line, which are
// skipped.
func netrcLogin(host string) (login, password string, ok bool) {
	file := os.Getenv("NETRC")
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", "", false
		}
		file = filepath.Join(home, ".netrc")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", "", false
	}
	return parseNetrc(string(data), host)
}

func parseNetrc(text, host string) (login, password string, ok bool) {
	type entry struct{ login, password string }
	var (
		cur      *entry
		curHost  string
		found    *entry
		fallback *entry
	)
	commit := func() {
		if cur == nil {
			return
		}
		switch {
		case curHost == host && found == nil:
			found = cur
		case curHost == "" && fallback == nil:
			fallback = cur
		}
	}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		fields := strings.Fields(lines[i])
		for j := 0; j < len(fields); j++ {
			tok := fields[j]
			if strings.HasPrefix(tok, "#") && j == 0 {
				break // a comment line
			}
			next := func() string {
				if j+1 < len(fields) {
					j++
					return fields[j]
				}
				return ""
			}
			switch tok {
			case "machine":
				commit()
				cur, curHost = &entry{}, next()
			case "default":
				commit()
				cur, curHost = &entry{}, ""
			case "login":
				if cur != nil {
					cur.login = next()
				}
			case "password":
				if cur != nil {
					cur.password = next()
				}
			case "account":
				next()
			case "macdef":
				// Skip the macro: the following lines up to an empty one.
				for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
					i++
				}
				j = len(fields)
			}
		}
	}
	commit()
	if found == nil {
		found = fallback
	}
	if found == nil {
		return "", "", false
	}
	return found.login, found.password, true
}
