package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release version, stamped by `make release` with
// -ldflags "-X main.version=1.2.0". It is empty in every other build, whose
// version then comes from the build information the go tool records.
var version string

// bmaptoolVersion is the bmaptool release whose command line this program
// implements. Run as bmaptool, --version prints "bmaptool 3.9.0" and
// nothing else, as bmaptool does: installer scripts read the number with
// awk '{print $2}' or '{print $NF}' (stderr included) and turn features on
// by it (--psplash-pipe from 3.6), so bmap's own version, or a second line,
// would switch them off or break them. -d and the JSON start event name the
// binary itself.
const bmaptoolVersion = "3.9.0"

// buildVersion says which binary this is, on one line: its version, then in
// brackets the VCS revision it was built from (12 hex digits, and "dirty"
// if the checkout had uncommitted changes) when the go tool recorded one,
// the Go version and the platform. The version is the stamped release
// version, else the module version: the tag for go install ...@v1.2.0, a
// pseudo-version for a build in a checkout (Go 1.24 on; "devel" before).
//
//	make release:        1.2.0 (go1.26.8, linux/arm)
//	go install @v1.2.0:  v1.2.0 (go1.26.8, linux/amd64)
//	go build, Go 1.26:   v0.0.0-20261207053544-c50fdfc59d0d+dirty (revision c50fdfc59d0d, dirty, go1.26.8, linux/amd64)
//	go build, Go 1.22:   devel (revision c50fdfc59d0d, dirty, go1.22.12, linux/amd64)
//
// A build with -buildvcs=false, outside a git checkout or in a git worktree
// records no revision, and a devel build then says "revision unknown".
func buildVersion() string {
	v, rev, dirty := version, "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var details []string
	switch {
	case rev != "":
		details = append(details, "revision "+rev[:min(12, len(rev))])
		if dirty {
			details = append(details, "dirty")
		}
	case v == "devel":
		details = append(details, "revision unknown")
	}
	details = append(details, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return v + " (" + strings.Join(details, ", ") + ")"
}

// versionOf is what --version prints after the program's name: bmaptool's
// version when run as bmaptool, else this binary's.
func versionOf(prog string) string {
	if prog == "bmaptool" {
		return bmaptoolVersion
	}
	return buildVersion()
}
