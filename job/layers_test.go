package job

import (
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestLayers keeps the project's dependency direction one way: the command
// on top, this package below it, the engine and the formats below that,
// and decompress, verify, fiemap, blockdev and source importing no project
// package, so each can be used (and fuzzed) on its own.
func TestLayers(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list the packages' imports")
	}
	const module = "github.com/bmap-tools/bmap/"
	// The project packages each package may import (its own internal
	// packages aside).
	allowed := map[string][]string{
		"cmd/bmap":   {"bmap", "flash", "job", "source"},
		"job":        {"blockdev", "bmap", "decompress", "flash", "simg", "source", "verify"},
		"flash":      {"bmap"},
		"bmap":       {"fiemap"},
		"simg":       {"bmap"},
		"fiemap":     nil,
		"blockdev":   nil,
		"source":     nil,
		"decompress": nil,
		"verify":     nil,
	}
	out, err := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		// A package's subpackages (internal ones included) follow its rule.
		parts := strings.Split(pkg, "/")
		top := parts[0]
		if top == "cmd" && len(parts) > 1 {
			top = "cmd/" + parts[1]
		}
		if top == "testdata" {
			continue
		}
		ok, known := allowed[top]
		if !known {
			t.Errorf("package %s has no rule here: add one", pkg)
			continue
		}
		var bad []string
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if strings.HasPrefix(dep, top+"/") {
				continue
			}
			if !containsString(ok, dep) {
				bad = append(bad, dep)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			t.Errorf("package %s imports %s; it may import only %v", pkg, strings.Join(bad, ", "), ok)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
