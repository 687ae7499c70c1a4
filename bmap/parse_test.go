package bmap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseFixtures(t *testing.T) {
	img := sampleImage(t)
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			data := readFixture(t, f.name)
			m, err := ParseBytes(data)
			if err != nil {
				t.Fatalf("ParseBytes: %v", err)
			}
			if err := checkInvariants(m); err != nil {
				t.Error(err)
			}
			if m.Version != f.version {
				t.Errorf("Version = %q, want %q", m.Version, f.version)
			}
			for _, c := range []struct {
				name      string
				got, want int64
			}{
				{"ImageSize", m.ImageSize, sampleImageSize},
				{"BlockSize", m.BlockSize, sampleBlockSize},
				{"BlocksCount", m.BlocksCount, sampleBlocks},
				{"MappedBlocksCount", m.MappedBlocksCount, sampleMapped},
				{"MappedBytes", m.MappedBytes(), (sampleMapped-1)*sampleBlockSize + sampleImageSize%sampleBlockSize},
			} {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
				}
			}
			if m.ChecksumType != f.checksumType {
				t.Errorf("ChecksumType = %q, want %q", m.ChecksumType, f.checksumType)
			}
			if h := m.NewHash(); (h != nil) != (f.checksumType != "") {
				t.Errorf("NewHash() = %v for ChecksumType %q", h, m.ChecksumType)
			}
			switch {
			case f.fileSum && len(m.FileChecksum) != hashFor(t, f.checksumType).Size():
				t.Errorf("FileChecksum = %x, want a %s digest", m.FileChecksum, f.checksumType)
			case !f.fileSum && m.FileChecksum != nil:
				t.Errorf("FileChecksum = %x, want none", m.FileChecksum)
			}
			if len(m.Ranges) != len(sampleRanges) {
				t.Fatalf("%d ranges, want %d", len(m.Ranges), len(sampleRanges))
			}
			for i, r := range m.Ranges {
				want := sampleRanges[i]
				if r.First != want[0] || r.Last != want[1] {
					t.Errorf("range %d = %d-%d, want %d-%d", i, r.First, r.Last, want[0], want[1])
					continue
				}
				if f.checksumType == "" {
					if r.Checksum != nil {
						t.Errorf("range %d-%d: Checksum = %x, want none below version 1.3", r.First, r.Last, r.Checksum)
					}
					continue
				}
				h := hashFor(t, f.checksumType)
				h.Write(img[m.Offset(r) : m.Offset(r)+m.Length(r)])
				if got := h.Sum(nil); !bytes.Equal(r.Checksum, got) {
					t.Errorf("range %d-%d: Checksum = %x, image bytes hash to %x", r.First, r.Last, r.Checksum, got)
				}
			}
			last := m.Ranges[len(m.Ranges)-1]
			if got, want := m.Length(last), int64(sampleBlockSize+sampleImageSize%sampleBlockSize); got != want {
				t.Errorf("Length(last range) = %d, want %d (the last block is partial)", got, want)
			}

			// Parse on a reader sees the same map, however the reader splits its data.
			for _, r := range []struct {
				name string
				r    io.Reader
			}{
				{"OneByteReader", iotest.OneByteReader(bytes.NewReader(data))},
				{"HalfReader", iotest.HalfReader(bytes.NewReader(data))},
				{"DataErrReader", iotest.DataErrReader(bytes.NewReader(data))},
			} {
				m2, err := Parse(r.r)
				if err != nil {
					t.Errorf("Parse(%s): %v", r.name, err)
				} else if !reflect.DeepEqual(m2, m) {
					t.Errorf("Parse(%s) = %+v, want %+v", r.name, m2, m)
				}
			}
		})
	}
}

// The sha1= attributes of formats 1.1 and 1.2 are ignored, as bmaptool
// ignores them, but the fixtures should still carry correct ones.
func TestIgnoredSHA1Attributes(t *testing.T) {
	img := sampleImage(t)
	re := regexp.MustCompile(`<Range sha1="([0-9a-f]{40})"> (\d+)(?:-(\d+))? </Range>`)
	for _, name := range []string{"sample.img.bmap.v1.1", "sample.img.bmap.v1.2"} {
		t.Run(name, func(t *testing.T) {
			matches := re.FindAllSubmatch(readFixture(t, name), -1)
			if len(matches) != len(sampleRanges) {
				t.Fatalf("%d sha1 ranges, want %d", len(matches), len(sampleRanges))
			}
			for i, mt := range matches {
				r := sampleRanges[i]
				h := hashFor(t, "sha1")
				h.Write(img[r[0]*sampleBlockSize : min((r[1]+1)*sampleBlockSize, sampleImageSize)])
				if got := hex.EncodeToString(h.Sum(nil)); got != string(mt[1]) {
					t.Errorf("range %d-%d: sha1=%s, image bytes hash to %s", r[0], r[1], mt[1], got)
				}
			}
		})
	}
}

func TestParseReaderErrors(t *testing.T) {
	data := readFixture(t, "sample.img.bmap.v2.0")
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"ErrReader", iotest.ErrReader(errBoom)},
		{"error mid-file", io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(errBoom))},
		{"TimeoutReader", iotest.TimeoutReader(bytes.NewReader(data))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(tc.r)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", m)
			}
			if tc.name != "TimeoutReader" && !errors.Is(err, errBoom) {
				t.Errorf("Parse: %v, want %v", err, errBoom)
			}
		})
	}
}

// zeroReader yields n zero bytes without holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n)]
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

func TestParseTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 256 MiB")
	}
	_, err := Parse(&zeroReader{MaxSize + 1})
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse(%d bytes) = %v, want a FormatError about the size", MaxSize+1, err)
	}
}

// badCase is an edited fixture that Parse must reject.
type badCase struct {
	name    string
	base    string // fixture name; "" means data is the whole input
	old     string // text to replace in base (first occurrence)
	new     string
	data    string // the whole input, when base is ""
	all     bool   // replace every occurrence of old
	noResum bool   // keep the file checksum as it was, so that the edit breaks it
	want    []string
	line    string // the error must say "line N" for the first line holding this text (in the edited input)
	is      error  // the error must match errors.Is
}

const (
	fix20 = "sample.img.bmap.v2.0"
	fix36 = "sample.img.bmap"
	fix13 = "sample.img.bmap.v1.3"
	fix12 = "sample.img.bmap.v1.2"
	fix10 = "sample.img.bmap.v1.0"
)

var badCases = []badCase{
	// Version.
	{name: "version 3.0", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="3.0">`, want: []string{"version", "3.0"}, is: ErrUnsupportedVersion},
	{name: "version 10.1", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="10.1">`, want: []string{"version", "10.1"}, is: ErrUnsupportedVersion},
	{name: "version 2", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="2">`, want: []string{"<bmap version>", `"2"`}},
	{name: "version abc", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="abc">`, want: []string{"<bmap version>", `"abc"`}},
	{name: "version 2.0.1", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="2.0.1">`, want: []string{"<bmap version>", `"2.0.1"`}},
	{name: "version -1.0", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="-1.0">`, want: []string{"<bmap version>", `"-1.0"`}},
	{name: "version 0.9", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version="0.9">`, want: []string{"<bmap version>", `"0.9"`}},
	{name: "version empty", base: fix20, old: `<bmap version="2.0">`, new: `<bmap version=" ">`, want: []string{"<bmap>", "version"}},
	{name: "version missing", base: fix20, old: `<bmap version="2.0">`, new: `<bmap>`, want: []string{"<bmap>", "missing version"}},
	{name: "version missing 1.2", base: fix12, old: `<bmap version="1.2">`, new: `<bmap>`, want: []string{"<bmap>", "missing version"}},

	// Header numbers.
	{name: "BlocksCount mismatch", base: fix20, old: "<BlocksCount> 1537 <", new: "<BlocksCount> 1538 <", want: []string{"<BlocksCount>", "1538", "1537"}, line: "<BlocksCount> 1"},
	{name: "BlocksCount mismatch 1.0", base: fix10, old: "<BlocksCount> 1537 <", new: "<BlocksCount> 1536 <", want: []string{"<BlocksCount>", "1536"}, line: "<BlocksCount> 1"},
	{name: "ImageSize mismatch", base: fix20, old: "<ImageSize> 6293801 <", new: "<ImageSize> 16293801 <", want: []string{"<BlocksCount>", "16293801"}, line: "<BlocksCount> 1"},
	{name: "ImageSize not a number", base: fix20, old: "<ImageSize> 6293801 <", new: "<ImageSize> 6.0 MiB <", want: []string{"<ImageSize>", `"6.0 MiB"`}, line: "<ImageSize>"},
	{name: "ImageSize zero", base: fix20, old: "<ImageSize> 6293801 <", new: "<ImageSize> 0 <", want: []string{"<ImageSize>", `"0"`}, line: "<ImageSize>"},
	{name: "ImageSize overflows", base: fix20, old: "<ImageSize> 6293801 <", new: "<ImageSize> 99999999999999999999 <", want: []string{"<ImageSize>"}, line: "<ImageSize>"},
	{name: "ImageSize empty", base: fix20, old: "<ImageSize> 6293801 <", new: "<ImageSize><", want: []string{"<ImageSize>"}, line: "<ImageSize>"},
	{name: "ImageSize missing", base: fix20, old: "    <ImageSize> 6293801 </ImageSize>\n", new: "", want: []string{"<ImageSize>", "missing"}},
	{name: "BlockSize zero", base: fix20, old: "<BlockSize> 4096 <", new: "<BlockSize> 0 <", want: []string{"<BlockSize>", `"0"`}, line: "<BlockSize>"},
	{name: "BlockSize negative", base: fix20, old: "<BlockSize> 4096 <", new: "<BlockSize> -4096 <", want: []string{"<BlockSize>", `"-4096"`}, line: "<BlockSize>"},
	{name: "BlockSize missing", base: fix13, old: "    <BlockSize> 4096 </BlockSize>\n", new: "", want: []string{"<BlockSize>", "missing"}},
	{name: "BlocksCount hex", base: fix20, old: "<BlocksCount> 1537 <", new: "<BlocksCount> 0x601 <", want: []string{"<BlocksCount>", `"0x601"`}, line: "<BlocksCount> 0x"},
	{name: "BlocksCount times BlockSize overflows", base: fix20, old: "<ImageSize> 6293801 <", new: "<ImageSize> 9223372036854775807 <",
		want: []string{"<BlocksCount>"}},
	{name: "MappedBlocksCount wrong", base: fix20, old: "<MappedBlocksCount> 156  <", new: "<MappedBlocksCount> 155  <", want: []string{"<MappedBlocksCount>", "155", "156"}, line: "<MappedBlocksCount> 1"},
	{name: "MappedBlocksCount wrong 1.2", base: fix12, old: "<MappedBlocksCount> 156 <", new: "<MappedBlocksCount> 157 <", want: []string{"<MappedBlocksCount>", "157", "156"}, line: "<MappedBlocksCount> 1"},
	{name: "MappedBlocksCount wrong 1.3", base: fix13, old: "<MappedBlocksCount> 156 ", new: "<MappedBlocksCount> 1560", want: []string{"<MappedBlocksCount>", "1560"}, line: "<MappedBlocksCount> 1"},
	{name: "MappedBlocksCount negative", base: fix20, old: "<MappedBlocksCount> 156  <", new: "<MappedBlocksCount> -156 <", want: []string{"<MappedBlocksCount>", `"-156"`}, line: "<MappedBlocksCount> -"},
	{name: "MappedBlocksCount missing", base: fix12, old: "    <MappedBlocksCount> 156 </MappedBlocksCount>\n", new: "", want: []string{"<MappedBlocksCount>", "missing"}},

	// Ranges.
	{name: "first after last", base: fix20, old: "> 1000-1019 <", new: "> 1019-1000 <", want: []string{"<Range>", "1019-1000", "first block 1019 is after last block 1000"}, line: "1019-1000"},
	{name: "first after last 1.0", base: fix10, old: "> 102-102 <", new: "> 103-102 <", want: []string{"<Range>", "103-102"}, line: "103-102"},
	{name: "range past the end", base: fix20, old: "> 1535-1536 <", new: "> 1535-1537 <", want: []string{"<Range>", "1535-1537", "1537"}, line: "1535-1537"},
	{name: "single block past the end", base: fix13, old: "> 1535-1536 <", new: "> 1537 <", want: []string{"<Range>", `"1537"`}, line: "\"> 1537 <"},
	{name: "overlapping ranges", base: fix20, old: "> 102 <", new: "> 100-102 <", want: []string{"<Range>", "100-102", "overlaps"}, line: "100-102"},
	{name: "duplicate range", base: fix12, old: "> 102 <", new: "> 100 <", want: []string{"<Range>", `"100"`, "overlaps"}, line: "12bd06c9"},
	{name: "unsorted ranges", base: fix20, old: "> 1200 <", new: "> 900 <", want: []string{"<Range>", `"900"`, "1000-1019"}, line: "> 900 <"},
	{name: "unsorted ranges 1.0", base: fix10, old: "> 1200-1200 <", new: "> 1-1 <", want: []string{"<Range>", `"1-1"`}, line: "> 1-1 <"},
	{name: "range not a number", base: fix20, old: "> 5 <", new: "> five <", want: []string{"<Range>", `"five"`}, line: "> five <"},
	{name: "range negative", base: fix20, old: "> 5 <", new: "> -5 <", want: []string{"<Range>", `"-5"`}, line: "> -5 <"},
	{name: "range plus sign", base: fix20, old: "> 5 <", new: "> +5 <", want: []string{"<Range>", `"+5"`}, line: "> +5 <"},
	{name: "range open end", base: fix20, old: "> 5 <", new: "> 5- <", want: []string{"<Range>", `"5-"`}, line: "> 5- <"},
	{name: "range three numbers", base: fix20, old: "> 16-47 <", new: "> 16-30-47 <", want: []string{"<Range>", `"16-30-47"`}, line: "16-30-47"},
	{name: "range empty", base: fix20, old: "> 5 <", new: "><", want: []string{"<Range>"}, line: `"><`},

	// Checksums.
	{name: "range checksum too short", base: fix20, old: `chksum="5df78778e3096fc51738bb1d0e3c6d7bcc8929f2857dc50d3358b771601f4223"`, new: `chksum="5df78778e3096fc51738bb1d0e3c6d7bcc8929f2857dc50d3358b771601f42"`, want: []string{"<Range>", `"5"`, "64 hex digits of sha256"}, line: "5df78778"},
	{name: "range checksum too long", base: fix20, old: `chksum="5df78778e3096fc51738bb1d0e3c6d7bcc8929f2857dc50d3358b771601f4223"`, new: `chksum="5df78778e3096fc51738bb1d0e3c6d7bcc8929f2857dc50d3358b771601f422300"`, want: []string{"<Range>", `"5"`, "sha256"}, line: "5df78778"},
	{name: "range checksum not hex", base: fix20, old: `chksum="5df78778e3096fc51738bb1d0e3c6d7bcc8929f2857dc50d3358b771601f4223"`, new: `chksum="5df78778e3096fc51738bb1d0e3c6d7bcc8929f2857dc50d3358b771601f422g"`, want: []string{"<Range>", `"5"`, "hex"}, line: "5df78778"},
	{name: "range checksum sha256 in a sha512 file", base: "sample.img.bmap.v2.0-sha512", old: `<Range chksum="`,
		new:  `<Range chksum="5f2f2924d9f90d6c4a253bfbb9a8a65a9277b622d840f42823b8ad0c608cf60e" old="`,
		want: []string{"<Range>", `"0-3"`, "128 hex digits of sha512"}, line: `old="`},
	{name: "range sha1 too short 1.3", base: fix13, old: `sha1="767e786a7e365a214e9eea06bace534e37af4584"`, new: `sha1="767e786a7e365a214e9eea06bace534e37af45"`, want: []string{"<Range>", `"0-3"`, "40 hex digits of sha1"}, line: "767e786a"},
	{name: "range sha1 not hex 1.3", base: fix13, old: `sha1="767e786a7e365a214e9eea06bace534e37af4584"`, new: `sha1="767e786a7e365a214e9eea06bace534e37af458x"`, want: []string{"<Range>", `"0-3"`}, line: "767e786a"},
	{name: "ChecksumType missing", base: fix20, old: "    <ChecksumType> sha256 </ChecksumType>\n", new: "", want: []string{"<ChecksumType>", "missing", "2.0"}},
	{name: "ChecksumType missing 1.4", base: "sample.img.bmap.v1.4", old: "    <ChecksumType> sha256 </ChecksumType>\n", new: "", want: []string{"<ChecksumType>", "missing", "1.4"}},
	{name: "ChecksumType unknown", base: fix20, old: "<ChecksumType> sha256 <", new: "<ChecksumType> md5 <", want: []string{"<ChecksumType>", `"md5"`}, line: "<ChecksumType>"},
	{name: "ChecksumType empty", base: fix20, old: "<ChecksumType> sha256 <", new: "<ChecksumType> <", want: []string{"<ChecksumType>"}, line: "<ChecksumType>"},
	{name: "ChecksumType does not match digests", base: fix20, old: "<ChecksumType> sha256 <", new: "<ChecksumType> sha512 <", want: []string{"<BmapFileChecksum>", "128 hex digits of sha512"}, line: "<BmapFileChecksum>"},
	{name: "file checksum missing", base: fix20, old: "BmapFileChecksum>", new: "Checksum>", all: true, noResum: true, want: []string{"<BmapFileChecksum>", "missing"}},
	{name: "file checksum missing 1.3", base: fix13, old: "BmapFileSHA1>", new: "BmapFileSHA>", all: true, noResum: true, want: []string{"<BmapFileSHA1>", "missing", "1.3"}},
	{name: "file checksum too short", base: fix36, old: "<BmapFileChecksum> 96e20c95", new: "<BmapFileChecksum> 96e20c", noResum: true, want: []string{"<BmapFileChecksum>", "hex digits"}, line: "<BmapFileChecksum>"},
	{name: "file checksum not hex", base: fix36, old: "<BmapFileChecksum> 96e20c95", new: "<BmapFileChecksum> 96e20c9z", noResum: true, want: []string{"<BmapFileChecksum>", "hex"}, line: "<BmapFileChecksum>"},
	{name: "file checksum empty", base: fix36, old: "<BmapFileChecksum> 96e20c9532b574256a984cf0e6ba5e86f60fadaf2ecfb8cdf91bc02fc3ab3edd <", new: "<BmapFileChecksum> <", noResum: true, want: []string{"<BmapFileChecksum>"}, line: "<BmapFileChecksum>"},

	// The file checksum catches any other edit.
	{name: "range digit edited", base: fix20, old: "> 1000-1019 <", new: "> 1000-1018 <", noResum: true, is: ErrFileChecksum, want: []string{"<BmapFileChecksum>"}, line: "<BmapFileChecksum>"},
	{name: "range checksum edited", base: fix36, old: `chksum="5df7`, new: `chksum="5df8`, noResum: true, is: ErrFileChecksum, want: []string{"<BmapFileChecksum>"}, line: "<BmapFileChecksum>"},
	{name: "file checksum edited", base: fix36, old: "<BmapFileChecksum> 96e20c95", new: "<BmapFileChecksum> 96e20c96", noResum: true, is: ErrFileChecksum, want: []string{"<BmapFileChecksum>", "96e20c96"}},
	{name: "comment edited 1.3", base: fix13, old: "Size of a block", new: "size of a block", noResum: true, is: ErrFileChecksum, want: []string{"<BmapFileSHA1>", "sha1"}, line: "<BmapFileSHA1>"},
	{name: "sha512 ImageSize edited", base: "sample.img.bmap.v2.0-sha512", old: "<ImageSize> 6293801 <", new: "<ImageSize> 6293800 <", noResum: true, is: ErrFileChecksum, want: []string{"<BmapFileChecksum>", "sha512"}},
	{name: "trailing newline dropped", base: fix20, old: "</bmap>\n", new: "</bmap>", noResum: true, is: ErrFileChecksum},
	{name: "trailing newline added", base: fix20, old: "</bmap>\n", new: "</bmap>\n\n", noResum: true, is: ErrFileChecksum},
	{name: "CRLF line ending", base: fix20, old: "<bmap version=\"2.0\">\n", new: "<bmap version=\"2.0\">\r\n", noResum: true, is: ErrFileChecksum},

	// XML.
	{name: "mismatched end tag", base: fix20, old: "</BlockMap>", new: "</Blockmap>", want: []string{"malformed XML", "line"}},
	{name: "unterminated attribute", base: fix20, old: `<Range chksum="5df7`, new: `<Range chksum=5df7`, want: []string{"malformed XML"}},
	{name: "unknown entity", base: fix12, old: "> 5 <", new: "> &five; <", want: []string{"malformed XML"}},
	{name: "unclosed root", base: fix12, old: "</bmap>\n", new: "\n", want: []string{"malformed XML"}},
	{name: "unclosed root 1.0", base: fix10, old: "</bmap>", new: "", want: []string{"malformed XML"}},
	{name: "text after the root", base: fix12, old: "</bmap>\n", new: "</bmap>\ntrailing junk\n", want: []string{"malformed XML", "text outside the root"}, line: "trailing junk"},
	{name: "second root", base: fix12, old: "</bmap>\n", new: "</bmap>\n<bmap version=\"1.2\"/>\n", want: []string{"malformed XML", "<bmap>", "second root"}, line: "<bmap version=\"1.2\"/>"},
	{name: "non-bmap root", data: "<?xml version=\"1.0\" ?>\n<html><body>bmap</body></html>\n", want: []string{"<html>", "not a bmap file"}, line: "<html>"},
	{name: "non-bmap root after bmap", base: fix12, old: "</bmap>\n", new: "</bmap>\n<html/>\n", want: []string{"<html>"}, line: "<html/>"},
	{name: "BlockMap missing", base: fix12, old: "BlockMap>", new: "Blocks>", all: true, want: []string{"<BlockMap>", "missing"}},
	{name: "BlockMap missing 1.0", base: fix10, old: "<BlockMap>", new: "<Blocks>", want: []string{"malformed XML"}},

	// Duplicated elements.
	{name: "ImageSize twice", base: fix20, old: "    <ImageSize> 6293801 </ImageSize>\n", new: "    <ImageSize> 6293801 </ImageSize>\n    <ImageSize>6293801</ImageSize>\n", want: []string{"<ImageSize>", "twice"}, line: "<ImageSize>6293801"},
	{name: "BlockSize twice", base: fix12, old: "    <BlockSize> 4096 </BlockSize>\n", new: "    <BlockSize> 4096 </BlockSize>\n    <BlockSize> 512 </BlockSize>\n", want: []string{"<BlockSize>", "twice"}, line: "<BlockSize> 512"},
	{name: "BlocksCount twice", base: fix20, old: "    <BlocksCount> 1537 </BlocksCount>\n", new: "    <BlocksCount> 1537 </BlocksCount>\n<BlocksCount>1537</BlocksCount>\n", want: []string{"<BlocksCount>", "twice"}, line: "<BlocksCount>1537"},
	{name: "MappedBlocksCount twice", base: fix12, old: "</BlockMap>\n", new: "</BlockMap>\n    <MappedBlocksCount> 156 </MappedBlocksCount>\n", want: []string{"<MappedBlocksCount>", "twice"}},
	{name: "ChecksumType twice", base: fix20, old: "    <ChecksumType> sha256 </ChecksumType>\n", new: "    <ChecksumType> sha256 </ChecksumType>\n    <ChecksumType> sha1 </ChecksumType>\n", want: []string{"<ChecksumType>", "twice"}, line: "<ChecksumType> sha1"},
	{name: "BmapFileChecksum twice", base: fix20, old: "    <BlockMap>", new: "    <BmapFileChecksum> 00 </BmapFileChecksum>\n    <BlockMap>", want: []string{"<BmapFileChecksum>", "twice"}, line: "<BmapFileChecksum> 00"},
	{name: "BmapFileSHA1 twice", base: fix13, old: "    <BlockMap>", new: "    <BmapFileSHA1> 00 </BmapFileSHA1>\n    <BlockMap>", want: []string{"<BmapFileSHA1>", "twice"}, line: "<BmapFileSHA1> 00"},
	{name: "BlockMap twice", base: fix20, old: "</bmap>", new: "    <BlockMap>\n    </BlockMap>\n</bmap>", want: []string{"<BlockMap>", "twice"}, line: "<BlockMap>\n    </BlockMap>\n</bmap>"},

	// Not a bmap at all.
	{name: "empty", data: "", want: []string{"not a bmap file"}},
	{name: "white space", data: " \n\t\n", want: []string{"not a bmap file"}},
	{name: "XML declaration only", data: "<?xml version=\"1.0\" ?>\n", want: []string{"not a bmap file"}},
	{name: "comment only", data: "<!-- <bmap version=\"2.0\"> -->\n", want: []string{"not a bmap file"}},
	{name: "garbage text", data: "This is not a bmap file.\n", want: []string{"malformed XML"}},
	{name: "garbage binary", data: "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff\xed\xc1\x01\x0d\x00\x00\x00\xc2\xa0\xf7Om", want: []string{"malformed XML"}},
	{name: "NUL bytes", data: "\x00\x00\x00\x00", want: []string{"malformed XML"}},
	{name: "JSON", data: `{"bmap": {"version": "2.0"}}`, want: []string{"malformed XML"}},
	{name: "HTML page", data: "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n", want: []string{"<html>", "not a bmap file"}, line: "<html>"},
	{name: "bmap without children", data: `<bmap version="2.0"/>`, want: []string{"<BlockMap>", "missing"}},
	{name: "bmap without header", data: `<bmap version="1.0"><BlockMap/></bmap>`, want: []string{"<ImageSize>", "missing"}},
	{name: "unsupported encoding", data: "<?xml version=\"1.0\" encoding=\"UTF-16\" ?>\n<bmap version=\"1.0\"/>", want: []string{"malformed XML", `encoding "UTF-16" is not supported`}},
}

func (c badCase) input(tb testing.TB) []byte {
	if c.base == "" {
		return []byte(c.data)
	}
	b := readFixture(tb, c.base)
	if c.all {
		b = bytes.ReplaceAll(b, []byte(c.old), []byte(c.new))
	} else {
		b = edit(b, c.old, c.new)
	}
	if !c.noResum {
		b = resum(b)
	}
	return b
}

func TestParseBad(t *testing.T) {
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			data := c.input(t)
			m, err := ParseBytes(data)
			if err == nil {
				t.Fatalf("ParseBytes = %+v, want an error", m)
			}
			if m != nil {
				t.Errorf("ParseBytes returned a map with error %v", err)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if c.line != "" {
				if w := fmt.Sprintf("line %d", lineOf(data, c.line)); !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", msg, c.is)
			}
			var fe *FormatError
			if c.is == nil && !errors.As(err, &fe) {
				t.Errorf("error %q (%T) is not a *FormatError", msg, err)
			}
			if c.is != ErrUnsupportedVersion && errors.Is(err, ErrUnsupportedVersion) ||
				c.is != ErrFileChecksum && errors.Is(err, ErrFileChecksum) {
				t.Errorf("error %q unexpectedly matches a sentinel", msg)
			}
		})
	}
}

// Any byte change breaks the file checksum: here, each white space character
// of a fixture doubled in turn (the XML stays valid and means the same).
func TestFileChecksumCatchesWhitespace(t *testing.T) {
	for _, f := range fixtures {
		if !f.fileSum {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := readFixture(t, f.name)
			n := 0
			for i, c := range data {
				if c != ' ' && c != '\n' {
					continue
				}
				edited := append(append(bytes.Clone(data[:i+1]), c), data[i+1:]...)
				m, err := ParseBytes(edited)
				if !errors.Is(err, ErrFileChecksum) {
					t.Fatalf("byte %d (line %d) %q doubled: ParseBytes = %v, %v; want %v", i, bytes.Count(data[:i], []byte("\n"))+1, c, m, err, ErrFileChecksum)
				}
				// With the checksum recomputed the edit is harmless.
				if n%8 == 0 {
					if _, err := ParseBytes(resum(edited)); err != nil {
						t.Fatalf("byte %d %q doubled, checksum recomputed: %v", i, c, err)
					}
				}
				n++
			}
			if n < 500 {
				t.Errorf("only %d white space bytes tried", n)
			}
		})
	}
}

// Every prefix of a fixture that cuts into the document must fail, and must
// not panic. Prefixes that drop only trailing white space are whole
// documents: they must fail on the file checksum if there is one.
func TestParseTruncated(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data := readFixture(t, f.name)
			end := bytes.LastIndex(data, []byte("</bmap>")) + len("</bmap>")
			want, err := ParseBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			step := 1
			if testing.Short() {
				step = 7
			}
			for n := 0; n < len(data); n += step {
				m, err := ParseBytes(data[:n])
				switch {
				case n < end && err == nil:
					t.Fatalf("ParseBytes(first %d of %d bytes) succeeded: %+v", n, len(data), m)
				case n < end && m != nil:
					t.Fatalf("ParseBytes(first %d bytes) returned a map and %v", n, err)
				case n >= end && f.fileSum && !errors.Is(err, ErrFileChecksum):
					t.Fatalf("ParseBytes(first %d of %d bytes) = %v, want %v", n, len(data), err, ErrFileChecksum)
				case n >= end && !f.fileSum && (err != nil || !reflect.DeepEqual(m, want)):
					t.Fatalf("ParseBytes(without trailing white space) = %+v, %v; want %+v", m, err, want)
				}
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			m, err := ParseBytes(readFixture(t, f.name))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := m.Encode(&buf); err != nil {
				t.Fatalf("Encode: %v", err)
			}
			text, err := m.MarshalText()
			if err != nil || !bytes.Equal(text, buf.Bytes()) {
				t.Fatalf("MarshalText differs from Encode (err %v)", err)
			}
			got, err := ParseBytes(buf.Bytes())
			if err != nil {
				t.Fatalf("ParseBytes(Encode(m)): %v\n%s", err, buf.Bytes())
			}
			want := *m
			want.Version = "2.0"
			if want.ChecksumType == "" {
				want.ChecksumType = "sha256" // Encode's type for maps without checksums
			}
			if len(got.FileChecksum) != hashFor(t, want.ChecksumType).Size() {
				t.Errorf("FileChecksum = %x, want a %s digest", got.FileChecksum, want.ChecksumType)
			}
			want.FileChecksum = got.FileChecksum
			if !reflect.DeepEqual(got, &want) {
				t.Errorf("Parse(Encode(m)) = %+v\nwant %+v", got, &want)
			}
			// Encoding is a fixed point from here on.
			again, err := got.MarshalText()
			if err != nil || !bytes.Equal(again, buf.Bytes()) {
				t.Errorf("Encode(Parse(Encode(m))) differs from Encode(m) (err %v)", err)
			}
		})
	}
}

// The committed fixtures are exactly what testdata/gen writes.
func TestFixturesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs testdata/gen")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			t.Skip("no go command to run testdata/gen with")
		}
	}
	cmd := exec.Command(goTool, "run", "./testdata/gen", "-check", "-dir", "testdata")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go run ./testdata/gen -check: %v\n%s", err, out)
	}
}

func TestFormatErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  FormatError
		want string
	}{
		{FormatError{Line: 7, Element: "<BlocksCount>", Msg: "bad"}, "line 7: <BlocksCount>: bad"},
		{FormatError{Element: "<ChecksumType>", Msg: "missing"}, "<ChecksumType>: missing"},
		{FormatError{Line: 3, Msg: "malformed XML: x"}, "line 3: malformed XML: x"},
		{FormatError{Msg: "no <bmap> element"}, "no <bmap> element"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// bmaptool (Python's XML parser) reads a bmap whatever encoding its
// declaration names; hand-made and converted files say US-ASCII,
// ISO-8859-1 or UTF8. A Latin-1 byte in a comment must be read as Latin-1.
func TestParseEncodings(t *testing.T) {
	base := readFixture(t, "sample.img.bmap.v2.0")
	want, err := ParseBytes(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{"UTF-8", "utf-8", "UTF8", "US-ASCII", "ascii", "ISO-8859-1", "latin1"} {
		t.Run(enc, func(t *testing.T) {
			data := edit(base, `<?xml version="1.0" ?>`, `<?xml version="1.0" encoding="`+enc+`"?>`)
			if strings.Contains(strings.ToLower(enc), "8859") || enc == "latin1" {
				// A comment in Latin-1: "é" is the byte 0xe9, not UTF-8.
				data = edit(data, "<!-- Image size in bytes", "<!-- caf\xe9: Image size in bytes")
			}
			m, err := ParseBytes(resum(data))
			if err != nil {
				t.Fatalf("ParseBytes with encoding %q: %v", enc, err)
			}
			if !reflect.DeepEqual(m.Ranges, want.Ranges) || m.ImageSize != want.ImageSize {
				t.Errorf("encoding %q: the map differs from the UTF-8 file's", enc)
			}
		})
	}
	data := resum(edit(base, `<?xml version="1.0" ?>`, `<?xml version="1.0" encoding="EBCDIC-US"?>`))
	if _, err := ParseBytes(data); err == nil || !strings.Contains(err.Error(), `encoding "EBCDIC-US" is not supported`) {
		t.Errorf("ParseBytes with EBCDIC-US: %v, want an error naming the encoding", err)
	}
}
