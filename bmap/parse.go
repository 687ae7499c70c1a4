package bmap

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ErrUnsupportedVersion is returned (wrapped) for a format version whose
// major number is above 2, the newest bmaptool knows.
var ErrUnsupportedVersion = errors.New("bmap: unsupported format version")

// ErrFileChecksum is returned (wrapped) when the bmap's own checksum does not
// match its content: the file was changed or damaged after it was created.
var ErrFileChecksum = errors.New("bmap: file checksum mismatch")

// A FormatError reports malformed or inconsistent bmap content. Line is the
// 1-based line of the offending element, 0 when the problem is not tied to
// one element.
type FormatError struct {
	Line    int
	Element string // such as "<Range>" or "<BlocksCount>"
	Msg     string
}

func (e *FormatError) Error() string {
	switch {
	case e.Line > 0 && e.Element != "":
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Element, e.Msg)
	case e.Element != "":
		return fmt.Sprintf("%s: %s", e.Element, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// MaxSize is the largest bmap file Parse accepts: 256 MiB, room for about two
// million ranges with checksums.
const MaxSize = 256 << 20

// Parse reads and validates a bmap file of any version from r.
func Parse(r io.Reader) (*Map, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, &FormatError{Msg: fmt.Sprintf("larger than %d bytes: not a bmap file", MaxSize)}
	}
	return ParseBytes(data)
}

// element is a scalar header element as read: its text and line.
type element struct {
	text string
	line int
	seen bool
}

type rawRange struct {
	text, chksum, sha1 string
	line               int
}

// rawMap is the content of a bmap file before interpretation.
type rawMap struct {
	version     string
	fields      map[string]*element
	ranges      []rawRange
	blockMapped bool
	rooted      bool // the <bmap> root element was seen
}

var headerElements = []string{"ImageSize", "BlockSize", "BlocksCount", "MappedBlocksCount", "ChecksumType", "BmapFileChecksum", "BmapFileSHA1"}

// ParseBytes reads and validates a bmap file of any version held in data.
func ParseBytes(data []byte) (*Map, error) {
	raw, err := scan(data)
	if err != nil {
		return nil, err
	}
	m := &Map{Version: raw.version}
	major, minor, err := parseVersion(raw.version)
	if err != nil {
		return nil, err
	}
	num := func(name string, min int64) (int64, error) {
		e := raw.fields[name]
		if !e.seen {
			return 0, &FormatError{Element: "<" + name + ">", Msg: "missing"}
		}
		v, err := strconv.ParseInt(e.text, 10, 64)
		if err != nil || v < min {
			return 0, &FormatError{Line: e.line, Element: "<" + name + ">", Msg: fmt.Sprintf("%q is not an integer >= %d", e.text, min)}
		}
		return v, nil
	}
	if m.ImageSize, err = num("ImageSize", 1); err != nil {
		return nil, err
	}
	if m.BlockSize, err = num("BlockSize", 1); err != nil {
		return nil, err
	}
	if m.BlocksCount, err = num("BlocksCount", 1); err != nil {
		return nil, err
	}
	if m.MappedBlocksCount, err = num("MappedBlocksCount", 0); err != nil {
		return nil, err
	}
	if want := (m.ImageSize-1)/m.BlockSize + 1; m.BlocksCount != want {
		e := raw.fields["BlocksCount"]
		return nil, &FormatError{Line: e.line, Element: "<BlocksCount>", Msg: fmt.Sprintf(
			"%d does not match the image size: ceil(%d bytes / %d-byte blocks) = %d", m.BlocksCount, m.ImageSize, m.BlockSize, want)}
	}
	if m.BlocksCount > math.MaxInt64/m.BlockSize {
		return nil, &FormatError{Element: "<BlocksCount>", Msg: "block count times block size overflows"}
	}

	// Which checksum scheme this version uses.
	var fileSumTag, attr string
	switch {
	case major == 2 || (major == 1 && minor >= 4):
		e := raw.fields["ChecksumType"]
		if !e.seen {
			return nil, &FormatError{Element: "<ChecksumType>", Msg: fmt.Sprintf("missing (required by version %s)", raw.version)}
		}
		m.ChecksumType = strings.ToLower(e.text)
		if h, err := newHash(m.ChecksumType); h == nil {
			msg := "empty"
			if err != nil {
				msg = err.Error()
			}
			return nil, &FormatError{Line: e.line, Element: "<ChecksumType>", Msg: msg}
		}
		fileSumTag, attr = "BmapFileChecksum", "chksum"
	case major == 1 && minor == 3:
		m.ChecksumType = "sha1"
		fileSumTag, attr = "BmapFileSHA1", "sha1"
	}
	if fileSumTag != "" {
		if err := checkFileChecksum(data, raw.fields[fileSumTag], fileSumTag, m); err != nil {
			return nil, err
		}
	}

	var mapped int64
	m.Ranges = make([]Range, 0, len(raw.ranges))
	for i, rr := range raw.ranges {
		r, err := parseRange(rr.text)
		if err == nil {
			switch {
			case r.Last >= m.BlocksCount:
				err = fmt.Errorf("block %d is past the image's last block %d", r.Last, m.BlocksCount-1)
			case i > 0 && r.First <= m.Ranges[i-1].Last:
				prev := m.Ranges[i-1]
				err = fmt.Errorf("overlaps or precedes the previous range %d-%d: ranges must be ascending and disjoint", prev.First, prev.Last)
			}
		}
		if err == nil {
			var sum string
			switch attr {
			case "chksum":
				sum = rr.chksum
			case "sha1":
				sum = rr.sha1
			}
			if sum != "" {
				r.Checksum, err = decodeDigest(sum, m.ChecksumType)
			}
		}
		if err != nil {
			return nil, &FormatError{Line: rr.line, Element: fmt.Sprintf("<Range> %q", rr.text), Msg: err.Error()}
		}
		mapped += r.Blocks()
		m.Ranges = append(m.Ranges, r)
	}
	if mapped != m.MappedBlocksCount {
		e := raw.fields["MappedBlocksCount"]
		return nil, &FormatError{Line: e.line, Element: "<MappedBlocksCount>", Msg: fmt.Sprintf(
			"%d, but the ranges of <BlockMap> cover %d blocks", m.MappedBlocksCount, mapped)}
	}
	return m, nil
}

// scan tokenizes the XML and collects the elements of interest with their
// lines. Unknown elements are ignored, as bmaptool does.
func scan(data []byte) (*rawMap, error) {
	raw := &rawMap{fields: map[string]*element{}}
	for _, n := range headerElements {
		raw.fields[n] = &element{}
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	var stack []string
	var text strings.Builder
	var cur *rawRange
	for {
		line, _ := d.InputPos()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &FormatError{Msg: "malformed XML: " + strings.TrimPrefix(err.Error(), "XML syntax error on ")}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			switch len(stack) {
			case 0:
				if name != "bmap" {
					return nil, &FormatError{Line: line, Element: "<" + name + ">", Msg: "root element is not <bmap>: not a bmap file"}
				}
				if raw.rooted {
					return nil, &FormatError{Line: line, Element: "<bmap>", Msg: "malformed XML: a second root element"}
				}
				raw.rooted = true
				for _, a := range t.Attr {
					if a.Name.Local == "version" {
						raw.version = strings.TrimSpace(a.Value)
					}
				}
			case 1:
				if e, ok := raw.fields[name]; ok {
					if e.seen {
						return nil, &FormatError{Line: line, Element: "<" + name + ">", Msg: "appears twice"}
					}
					e.seen, e.line = true, line
				}
				if name == "BlockMap" {
					if raw.blockMapped {
						return nil, &FormatError{Line: line, Element: "<BlockMap>", Msg: "appears twice"}
					}
					raw.blockMapped = true
				}
			case 2:
				if stack[1] == "BlockMap" && name == "Range" {
					cur = &rawRange{line: line}
					for _, a := range t.Attr {
						switch a.Name.Local {
						case "chksum":
							cur.chksum = strings.TrimSpace(a.Value)
						case "sha1":
							cur.sha1 = strings.TrimSpace(a.Value)
						}
					}
				}
			}
			stack = append(stack, name)
			text.Reset()
		case xml.CharData:
			if len(stack) == 0 && len(bytes.Trim(t, " \t\r\n\ufeff")) > 0 { // XML white space, a byte order mark
				lead := len(t) - len(bytes.TrimLeft(t, " \t\r\n\ufeff"))
				return nil, &FormatError{Line: line + bytes.Count(t[:lead], []byte("\n")), Msg: "malformed XML: text outside the root element"}
			}
			text.Write(t)
		case xml.EndElement:
			switch len(stack) {
			case 2:
				if e, ok := raw.fields[stack[1]]; ok {
					e.text = strings.TrimSpace(text.String())
				}
			case 3:
				if cur != nil {
					cur.text = strings.TrimSpace(text.String())
					raw.ranges = append(raw.ranges, *cur)
					cur = nil
				}
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	if !raw.rooted {
		return nil, &FormatError{Msg: "no <bmap> element: not a bmap file"}
	}
	if raw.version == "" {
		return nil, &FormatError{Element: "<bmap>", Msg: "missing version attribute"}
	}
	if !raw.blockMapped {
		return nil, &FormatError{Element: "<BlockMap>", Msg: "missing"}
	}
	return raw, nil
}

// charsetReader decodes the encodings a bmap file may declare besides
// UTF-8: bmaptool writes no declaration of its own but reads any that
// Python knows, and hand-made or converted files say "US-ASCII",
// "ISO-8859-1" or "UTF8". A bmap's content is ASCII, so these cover every
// real file; others are refused by name.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us":
		return in, nil // ASCII is UTF-8; bytes above 0x7f are checked as UTF-8
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "cp819":
		return latin1Reader{in}, nil
	}
	return nil, fmt.Errorf("encoding %q is not supported (a bmap is ASCII: declare UTF-8, US-ASCII or ISO-8859-1)", label)
}

// latin1Reader turns ISO-8859-1 into UTF-8: each byte is the code point of
// the same value.
type latin1Reader struct{ r io.Reader }

func (l latin1Reader) Read(p []byte) (int, error) {
	// Each input byte becomes at most two output bytes.
	buf := make([]byte, (len(p)+1)/2)
	n, err := l.r.Read(buf)
	out := p[:0]
	for _, c := range buf[:n] {
		if c < 0x80 {
			out = append(out, c)
		} else {
			out = append(out, 0xc0|c>>6, 0x80|c&0x3f)
		}
	}
	return len(out), err
}

func parseVersion(v string) (major, minor int, err error) {
	maj, min, ok := strings.Cut(v, ".")
	if ok {
		major, err = strconv.Atoi(maj)
		if err == nil {
			minor, err = strconv.Atoi(min)
		}
	}
	if !ok || err != nil || major < 0 || minor < 0 {
		return 0, 0, &FormatError{Element: "<bmap version>", Msg: fmt.Sprintf("%q is not a major.minor version", v)}
	}
	if major == 0 {
		return 0, 0, &FormatError{Element: "<bmap version>", Msg: fmt.Sprintf("%q: bmaptool never wrote a version below 1.0", v)}
	}
	if major > 2 {
		return 0, 0, fmt.Errorf("%w %s: this program reads versions 1.0 to 2.x", ErrUnsupportedVersion, v)
	}
	return major, minor, nil
}

// parseRange parses "A-B" or "A" (block numbers, inclusive).
func parseRange(s string) (Range, error) {
	a, b, isRange := strings.Cut(s, "-")
	first, err := parseBlock(a)
	if err != nil {
		return Range{}, err
	}
	last := first
	if isRange {
		if last, err = parseBlock(b); err != nil {
			return Range{}, err
		}
	}
	if first > last {
		return Range{}, fmt.Errorf("first block %d is after last block %d", first, last)
	}
	return Range{First: first, Last: last}, nil
}

func parseBlock(s string) (int64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || s[0] == '+' {
		return 0, fmt.Errorf("%q is not a block number", s)
	}
	return v, nil
}

func decodeDigest(s, checksumType string) ([]byte, error) {
	h, _ := newHash(checksumType)
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != h.Size() {
		return nil, fmt.Errorf("checksum %q is not %d hex digits of %s", s, 2*h.Size(), checksumType)
	}
	return b, nil
}

// checkFileChecksum verifies the bmap's own checksum as bmaptool does: the
// first occurrence of the stored hex string in the file is replaced by ASCII
// zeros and the whole file is hashed.
func checkFileChecksum(data []byte, e *element, tag string, m *Map) error {
	if !e.seen {
		return &FormatError{Element: "<" + tag + ">", Msg: fmt.Sprintf("missing (required by version %s)", m.Version)}
	}
	want, err := decodeDigest(e.text, m.ChecksumType)
	if err != nil {
		return &FormatError{Line: e.line, Element: "<" + tag + ">", Msg: err.Error()}
	}
	m.FileChecksum = want
	got := fileChecksum(data, e.text, m.ChecksumType)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("%w: line %d: <%s>: computed %s %x, stored %s (was the file changed after it was created?)",
			ErrFileChecksum, e.line, tag, m.ChecksumType, got, e.text)
	}
	return nil
}

// fileChecksum hashes data with the first occurrence of stored replaced by
// '0' characters.
func fileChecksum(data []byte, stored, checksumType string) []byte {
	h, _ := newHash(checksumType)
	i := bytes.Index(data, []byte(stored))
	if i < 0 { // cannot happen: stored was read from data
		h.Write(data)
		return h.Sum(nil)
	}
	h.Write(data[:i])
	h.Write(bytes.Repeat([]byte{'0'}, len(stored)))
	h.Write(data[i+len(stored):])
	return h.Sum(nil)
}
