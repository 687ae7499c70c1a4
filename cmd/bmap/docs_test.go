package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/bmap.1 from the command-line definition")

// docs/bmap.1 is generated from the CLI definition; it must not drift.
func TestManPageUpToDate(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"bmap", "man"}, nil, &out, &errb); err != nil {
		t.Fatalf("bmap man: %v: %s", err, errb.String())
	}
	const path = "../../docs/bmap.1"
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, out.Bytes()) {
		t.Errorf("%s is out of date: run go test ./cmd/bmap -run TestManPageUpToDate -args -update", path)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{"bmap", "completion", sh}, nil, &out, &errb); err != nil || out.Len() == 0 {
			t.Errorf("completion %s: %v, %d bytes: %s", sh, err, out.Len(), errb.String())
		}
	}
	var errb bytes.Buffer
	if err := run(context.Background(), []string{"bmap", "completion", "tcsh"}, nil, &bytes.Buffer{}, &errb); exitCode(err) != exitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", exitCode(err), exitUsage)
	}
}

// TestCompletionInShells types "bmap ver" and Tab in real bash, zsh and
// fish (in a tmux pane), with the scripts of "bmap completion" loaded as
// the Debian package installs them (zsh's autoloaded from $fpath by
// compinit), and checks that the line became "bmap verify"; then the same
// for "bmaptool cr" (the scripts of the bmaptool link).
func TestCompletionInShells(t *testing.T) {
	needTools(t, "tmux")
	bin := builtBinary(t)
	for _, sh := range []struct {
		name  string
		files map[string]string // file in dir: the shell and program of its script
		start string            // the command that starts the shell, @DIR@ its directory
	}{
		{"bash", map[string]string{"bmap.bash": "bash bmap", "bmaptool.bash": "bash bmaptool",
			"bashrc": "PS1='> '; source @DIR@/bmap.bash; source @DIR@/bmaptool.bash"},
			"INPUTRC=/dev/null bash --noprofile --rcfile @DIR@/bashrc -i"},
		{"zsh", map[string]string{"_bmap": "zsh bmap", "_bmaptool": "zsh bmaptool",
			".zshrc": "fpath=(@DIR@ $fpath); autoload -U compinit && compinit -u -D; PS1='> '"},
			"ZDOTDIR=@DIR@ zsh -i"},
		{"fish", map[string]string{"bmap.fish": "fish bmap", "bmaptool.fish": "fish bmaptool"},
			"fish --no-config -i -C 'function fish_greeting; end; function fish_prompt; echo \"> \"; end; source @DIR@/bmap.fish; source @DIR@/bmaptool.fish'"},
	} {
		t.Run(sh.name, func(t *testing.T) {
			needTools(t, sh.name)
			dir := t.TempDir()
			for file, what := range sh.files {
				var content []byte
				if shell, prog, ok := strings.Cut(what, " "); ok && !strings.Contains(what, "@DIR@") {
					var err error
					if content, err = exec.Command(filepath.Join(binDir, prog), "completion", shell).Output(); err != nil {
						t.Fatalf("%s completion %s: %v", prog, shell, err)
					}
				} else {
					content = []byte(strings.ReplaceAll(what, "@DIR@", dir) + "\n")
				}
				writeFile(t, filepath.Join(dir, file), content)
			}
			start := "PATH=" + filepath.Dir(bin) + ":$PATH " + strings.ReplaceAll(sh.start, "@DIR@", dir) + "; echo EXIT=$?; sleep 60"
			for i, tc := range []struct{ typed, want string }{{"bmap ver", "bmap verify"}, {"bmaptool cr", "bmaptool create"}} {
				sock := filepath.Join(dir, fmt.Sprintf("tmux%d.sock", i))
				tmux := func(args ...string) string {
					cmd := exec.Command("tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
					cmd.Env = append(os.Environ(), "TMUX=", "SHELL=/bin/sh")
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("tmux %s: %v\n%s", args[0], err, out)
					}
					return string(out)
				}
				// waitFor waits for a line of the screen to match re.
				waitFor := func(re, what string) {
					for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
						screen := tmux("capture-pane", "-p")
						if regexp.MustCompile(`(?m)^` + re + `$`).MatchString(screen) {
							return
						}
						if time.Now().After(deadline) {
							t.Fatalf("%s: not on the screen in 10 s:\n%s", what, screen)
						}
					}
				}
				tmux("new-session", "-d", "-x", "120", "-y", "20", "-c", dir, start)
				t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
				waitFor("> *", "the prompt")
				tmux("send-keys", tc.typed, "Tab")
				waitFor("> "+tc.want+" *", fmt.Sprintf("%q and Tab completed to %q", tc.typed, tc.want))
			}
		})
	}
}
