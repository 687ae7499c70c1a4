package source

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fileServer serves one file over real HTTP, with the faults a test asks
// for. It parses Range and If-Range itself, so that it can lie.
type fileServer struct {
	mu      sync.Mutex
	data    []byte
	etag    string
	lastMod string

	noRange      bool  // ignore Range (answer 200), though Accept-Ranges says bytes
	cutAfter     int64 // close every response after this many body bytes (0: never)
	resetAfter   int64 // reset (RST) the connection after this many body bytes
	stallAfter   int64 // stop sending for stallFor after this many body bytes
	stallFor     time.Duration
	faults       int64 // apply cut/reset/stall to the first faults responses long enough for it (0: all)
	lyingRange   bool  // 206 with a Content-Range that does not match the request
	headStatus   int   // answer HEAD with this status (e.g. 403)
	statusQueue  []int // answer the next requests with these statuses first
	changeAfter  int   // after this many GETs, the file changes (new data and ETag)
	user, pass   string
	bearer       string            // a required "Authorization: Bearer" token
	headers      map[string]string // required request headers
	redirectTo   string            // redirect every request here (302)
	noValidators bool              // send neither ETag nor Last-Modified

	sent     atomic.Int64 // body bytes written
	gets     atomic.Int64
	requests atomic.Int64
	seenAuth []string // Authorization headers received
	seenHdr  []string // values of the headers in seenKey received
	seenKey  string
	served   atomic.Int64 // responses a fault was applied to
}

func newFileServer(data []byte) *fileServer {
	return &fileServer{data: data, etag: `"v1"`, lastMod: "Mon, 02 Jan 2006 15:04:05 GMT"}
}

func (s *fileServer) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	s.seenAuth = append(s.seenAuth, r.Header.Get("Authorization"))
	if s.seenKey != "" {
		s.seenHdr = append(s.seenHdr, r.Header.Get(s.seenKey))
	}
	if len(s.statusQueue) > 0 {
		st := s.statusQueue[0]
		s.statusQueue = s.statusQueue[1:]
		s.mu.Unlock()
		http.Error(w, http.StatusText(st), st)
		return
	}
	if s.redirectTo != "" {
		s.mu.Unlock()
		http.Redirect(w, r, s.redirectTo+r.URL.RequestURI(), http.StatusFound)
		return
	}
	if r.Method == http.MethodGet {
		if n := s.gets.Add(1); s.changeAfter > 0 && int(n) == s.changeAfter+1 {
			changed := append([]byte(nil), s.data...)
			for i := range changed {
				changed[i] ^= 0xff
			}
			s.data, s.etag, s.lastMod = changed, `"v2"`, "Tue, 03 Jan 2006 15:04:05 GMT"
		}
	}
	data, etag, lastMod := s.data, s.etag, s.lastMod
	s.mu.Unlock()

	if s.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if s.bearer != "" && r.Header.Get("Authorization") != "Bearer "+s.bearer {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	for k, v := range s.headers {
		if r.Header.Get(k) != v {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
	}
	if r.Method == http.MethodHead && s.headStatus != 0 {
		w.WriteHeader(s.headStatus)
		return
	}
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	if !s.noValidators {
		h.Set("ETag", etag)
		h.Set("Last-Modified", lastMod)
	}
	first, last := int64(0), int64(len(data))-1
	status := http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && !s.noRange {
		ifRange := r.Header.Get("If-Range")
		if ifRange == "" || ifRange == etag || ifRange == lastMod {
			a, b, ok := parseRange(rng, int64(len(data)))
			if !ok {
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			first, last, status = a, b, http.StatusPartialContent
			cr := fmt.Sprintf("bytes %d-%d/%d", first, last, len(data))
			if s.lyingRange {
				cr = fmt.Sprintf("bytes %d-%d/%d", first+1, last, len(data))
			}
			h.Set("Content-Range", cr)
		}
	}
	h.Set("Content-Length", strconv.FormatInt(last-first+1, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body := data[first : last+1]
	// faulty says whether a fault that applies to a body this long is
	// still due: the first faults such responses only (0: all).
	faulty := func(after int64) bool {
		if after <= 0 || int64(len(body)) <= after {
			return false
		}
		return s.faults == 0 || s.served.Add(1) <= s.faults
	}
	write := func(b []byte) bool {
		n, err := w.Write(b)
		s.sent.Add(int64(n))
		return err == nil
	}
	switch {
	case faulty(s.cutAfter):
		write(body[:s.cutAfter])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // net/http closes the connection
	case faulty(s.resetAfter):
		write(body[:s.resetAfter])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
		return
	case faulty(s.stallAfter):
		write(body[:s.stallAfter])
		w.(http.Flusher).Flush()
		select {
		case <-time.After(s.stallFor):
		case <-r.Context().Done():
			return
		}
		write(body[s.stallAfter:])
		return
	}
	write(body)
}

// parseRange parses "bytes=A-B", "bytes=A-" and "bytes=-N" for size.
func parseRange(s string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(0, size-n), size - 1, size > 0
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first >= size {
		return 0, 0, false
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false
		}
		last = min(last, size-1)
	}
	return first, last, true
}
