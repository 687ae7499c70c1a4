package job_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bmap-tools/bmap/job"
	"github.com/bmap-tools/bmap/source"
)

// logLines is a job.Logger that keeps every line.
type logLines struct{ lines []string }

func (l *logLines) Infof(f string, a ...any)  { l.lines = append(l.lines, fmt.Sprintf(f, a...)) }
func (l *logLines) Warnf(f string, a ...any)  { l.lines = append(l.lines, fmt.Sprintf(f, a...)) }
func (l *logLines) Debugf(f string, a ...any) { l.lines = append(l.lines, fmt.Sprintf(f, a...)) }

// TestCopyRedactsURLs: the job's own messages, its CopyInfo and its errors
// show URLs without their credentials and secret query values, with no
// help from the command line's last-guard scrubbing.
func TestCopyRedactsURLs(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	f, _ := os.Create(img)
	f.Truncate(1 << 20)
	f.WriteAt([]byte("boot sector"), 4096)
	f.Close()
	ctx := context.Background()
	if _, err := job.Create(ctx, job.CreateOptions{Image: img, Output: img + ".bmap"}); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "carol" || p != "pa55-word" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	secrets := []string{"carol", "pa55-word", "SIGNATURE-VALUE"}
	check := func(what string, texts ...string) {
		t.Helper()
		for _, text := range texts {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s shows %q: %s", what, s, text)
				}
			}
		}
	}
	url := strings.Replace(srv.URL, "http://", "http://carol:pa55-word@", 1) + "/disk.img?X-Amz-Signature=SIGNATURE-VALUE"
	log := &logLines{}
	op := &source.Opener{Debugf: log.Debugf}
	res, err := job.Copy(ctx, job.CopyOptions{Image: url, Dest: filepath.Join(dir, "out.img"), Opener: op, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	check("a message", log.lines...)
	check("CopyInfo", res.Info.Image, res.Info.Bmap)
	if !strings.Contains(strings.Join(log.lines, "\n"), "X-Amz-Signature=***") {
		t.Errorf("the messages do not name the URL, redacted:\n%s", strings.Join(log.lines, "\n"))
	}
	if res.Transfer == nil || res.Transfer.Bytes < 4096 {
		t.Errorf("Transfer = %+v", res.Transfer)
	}

	bad := strings.Replace(url, "pa55-word", "wrong", 1)
	_, err = job.Copy(ctx, job.CopyOptions{Image: bad, Dest: filepath.Join(dir, "out2.img"), Opener: op, Log: log})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v", err)
	}
	check("the error", err.Error())
	check("a message", log.lines...)
}
